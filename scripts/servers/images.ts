/**
 * The container images of the test servers: each is built here from a docker/ Dockerfile around a binary that
 * scripts/build-servers.sh builds from the Go module proxy (no registry needed), and has an official counterpart
 * that OPENCRATE_TEST_IMAGES=official uses instead on machines that can pull.
 *
 * The local builds are also tagged with the official names (unless an image pulled under that name is there), so
 * docker/compose.yaml, which names the official images, finds them without a pull. MinIO's local build is a newer
 * source revision than its last published image; it carries the moving `latest` tag, never a release tag.
 */
import { join } from "node:path";

export type ImageId = "minio" | "gcs" | "toxiproxy";

export interface ImageSpec {
  readonly id: ImageId;
  /** Relative to the repository root. */
  readonly dockerfile: string;
  /** Files the Dockerfile COPYs: name in the build context -> path on this machine. */
  context(root: string, busybox: string): Readonly<Record<string, string>>;
  /** What a local build is tagged, and what tests use by default. */
  readonly local: string;
  /** The published image with the same layout. */
  readonly official: string;
}

const bin = (root: string, name: string): string => join(root, ".cache", "bin", name);

export const IMAGES: Readonly<Record<ImageId, ImageSpec>> = {
  minio: {
    id: "minio",
    dockerfile: "docker/minio.Dockerfile",
    context: (root, busybox) => ({ minio: bin(root, "minio"), busybox }),
    local: "opencrate-test/minio:local",
    official: "minio/minio:latest",
  },
  gcs: {
    id: "gcs",
    dockerfile: "docker/fake-gcs-server.Dockerfile",
    context: (root, busybox) => ({ "fake-gcs-server": bin(root, "fake-gcs-server"), busybox }),
    local: "opencrate-test/fake-gcs-server:local",
    official: "fsouza/fake-gcs-server:1.55.1",
  },
  toxiproxy: {
    id: "toxiproxy",
    dockerfile: "docker/toxiproxy.Dockerfile",
    context: (root) => ({ "toxiproxy-server": bin(root, "toxiproxy-server") }),
    local: "opencrate-test/toxiproxy:local",
    official: "ghcr.io/shopify/toxiproxy:2.5.0",
  },
};

/** Labels every local build carries: the hash of its inputs (a rebuild is skipped when it matches). */
export const INPUTS_LABEL = "org.opencrate.inputs";

export type ImageSource = "local" | "official";

/** OPENCRATE_TEST_IMAGES: `local` (default: built here) or `official` (pulled from their registries). */
export function imageSource(env: NodeJS.ProcessEnv = process.env): ImageSource {
  const value = env.OPENCRATE_TEST_IMAGES?.trim() || "local";
  if (value !== "local" && value !== "official") {
    throw new Error(`OPENCRATE_TEST_IMAGES must be "local" or "official", not "${value}"`);
  }
  return value;
}

/** The image a test starts for `id`. */
export function imageFor(id: ImageId, env: NodeJS.ProcessEnv = process.env): string {
  return imageSource(env) === "official" ? IMAGES[id].official : IMAGES[id].local;
}
