/**
 * The few fields opencrate reads from S3's XML answers (error bodies, listings), found by element name. S3's XML
 * has no attributes, comments or CDATA in these answers, and a value never holds a raw "<", so a value is the text
 * between an element's tags with its entities decoded.
 */

/** The text of the first `<field>` element in `xml`, or undefined. */
export function xmlField(xml: string, field: string): string | undefined {
  const match = new RegExp(`<${field}>([^<]*)</${field}>`).exec(xml);
  return match?.[1] === undefined ? undefined : decodeXml(match[1]);
}

/** The inner XML of every `<element>…</element>` in `xml`, in order. */
export function xmlElements(xml: string, element: string): string[] {
  const found: string[] = [];
  const pattern = new RegExp(`<${element}>([\\s\\S]*?)</${element}>`, "g");
  for (let match = pattern.exec(xml); match !== null; match = pattern.exec(xml)) found.push(match[1] ?? "");
  return found;
}

export function decodeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (entity: string, name: string) => {
    if (name.startsWith("#x")) return String.fromCodePoint(Number.parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(Number(name.slice(1)));
    return { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[name] ?? entity;
  });
}
