/** Clients with injected faults, shared by the resilience tests and the soak test. */
import http from "node:http";
import type { S3Client } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createClient } from "../../src/index.js";
import type { FaultProxy } from "./fault-proxy.js";
import { s3Config } from "./s3.js";

export type MiddlewareFault = "503-before" | "500-after";

/** A client through the proxy, one connection per request, with optional fault middleware. */
export function proxiedClient(proxy: FaultProxy, inject?: (command: string) => MiddlewareFault | undefined): S3Client {
  const client = createClient({
    ...s3Config(),
    endpoint: proxy.endpoint,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: false }), connectionTimeout: 2000 }),
  });
  if (inject) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const fault = inject(String(context.commandName));
        if (fault === "503-before") {
          throw Object.assign(new Error("Please reduce your request rate."), {
            name: "SlowDown",
            $metadata: { httpStatusCode: 503 },
            $response: { statusCode: 503, headers: { "retry-after": "0" } },
          });
        }
        const result = await next(args);
        // the server did the work; the client is told it failed
        if (fault === "500-after")
          throw Object.assign(new Error("We encountered an internal error."), {
            name: "InternalError",
            $metadata: { httpStatusCode: 500 },
          });
        return result;
      },
      { step: "finalizeRequest", name: "injectFaults", priority: "high" },
    );
  }
  return client;
}

/** Host and port of the S3 server, for a proxy in front of it. */
export function proxyTarget(): { host: string; port: number } {
  const url = new URL(s3Config().endpoint);
  return { host: url.hostname, port: Number(url.port) };
}
