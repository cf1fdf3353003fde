/**
 * Keeps credentials out of everything the CLI prints: user:secret@ in URIs (via redact), and the values of the
 * secret environment variables and of the Google service-account file, wherever they appear in a message.
 */
import { readFileSync } from "node:fs";
import { redact } from "../uri.ts";

const SECRET_VARIABLES = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] as const;
const SECRET_JSON_FIELDS = ["private_key", "private_key_id", "client_secret", "refresh_token"] as const;
/** Shorter values would blank out ordinary words. */
const MIN_SECRET_LENGTH = 6;
/** `scheme://user@…` or `scheme://user:secret@…`, where the secret may hold "/" (as redact() in src/uri.ts reads it). */
const URI_WITH_USER_INFO = /[a-zA-Z][a-zA-Z0-9+.-]*:\/\/(?:[^/@\s'"]*@|[^/@:\s'"]*:[^@\s'"]*@)\S*/g;

let cachedSecrets: readonly string[] | undefined;

export function scrub(text: string): string {
  let clean = text.replace(URI_WITH_USER_INFO, (uri) => redact(uri));
  for (const secret of secretValues()) clean = clean.split(secret).join("***");
  return clean;
}

function secretValues(): readonly string[] {
  if (cachedSecrets !== undefined) return cachedSecrets;
  const values: string[] = [];
  for (const variable of SECRET_VARIABLES) {
    const value = process.env[variable];
    if (value !== undefined) values.push(value);
  }
  const credentialsFile = process.env.GOOGLE_APPLICATION_CREDENTIALS;
  if (credentialsFile !== undefined && credentialsFile !== "") values.push(...serviceAccountSecrets(credentialsFile));
  // Longest first, so a secret that contains another is blanked whole; JSON-escaped forms too (stacks quote them).
  const expanded = values.flatMap((value) => [value, JSON.stringify(value).slice(1, -1)]);
  cachedSecrets = [...new Set(expanded)].filter((value) => value.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  return cachedSecrets;
}

function serviceAccountSecrets(path: string): string[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    if (typeof parsed !== "object" || parsed === null) return [];
    const fields = parsed as Record<string, unknown>;
    const secrets = SECRET_JSON_FIELDS.map((field) => fields[field]).filter((value): value is string => typeof value === "string");
    // A private key may be quoted line by line in a message; blank each of its lines too.
    return secrets.flatMap((secret) => [secret, ...secret.split("\n").filter((line) => line.length >= 16 && !line.startsWith("-----"))]);
  } catch {
    return [];
  }
}
