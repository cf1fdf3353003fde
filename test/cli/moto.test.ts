/**
 * The CLI against moto through s3:// URIs. Like AWS S3, moto holds any key, so this is where pull meets keys that
 * climb out of the version folder ("..", "//", ".").
 */
import { motoFactory } from "../support/s3.ts";
import { motoEnv } from "../support/servers.ts";
import { cloudSmokeSuite } from "./cloud-smoke.ts";
import { s3CliTarget } from "./s3-target.ts";

cloudSmokeSuite(
  s3CliTarget("moto", motoEnv(), motoFactory(), {
    craftedKeys: [
      { path: "../../escaped.txt", problem: "the path has a '..' segment" },
      { path: "/etc/x", problem: "the path is absolute" },
      { path: "a/./b.txt", problem: "the path has a '.' segment" },
      { path: "a/../../../escaped.txt", problem: "the path has a '..' segment" },
      { path: "..\\escaped.txt", problem: "the path contains a backslash" },
    ],
  }),
);
