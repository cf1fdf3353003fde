/** Starts a server listening, with an error that names the address once and says what to do about it. */
import type { Server } from "node:http";
import { AlreadyExistsError, InvalidArgumentError, PermissionDeniedError, TransientError } from "../errors.ts";

export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => reject(listenError(error, host, port));
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const options = { cause: error };
  switch (error.code) {
    case "EADDRINUSE":
      return new AlreadyExistsError(
        `Cannot listen on ${address}: the port is in use (by another viewer or program); pass --port 0 for a free port, or another --port.`,
        options,
      );
    case "EACCES":
    case "EPERM":
      return new PermissionDeniedError(
        `Cannot listen on ${address}: this user may not use port ${port}; pass --port 0 for a free port, or one above 1023.`,
        options,
      );
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new InvalidArgumentError(`Cannot listen on ${address}: ${host} is no address of this machine.`, options);
    default:
      return new TransientError(`Cannot listen on ${address} (${error.code ?? error.message}).`, options);
  }
}
