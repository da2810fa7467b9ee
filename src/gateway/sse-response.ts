/**
 * A text/event-stream Response fed by `frames`. The stream pulls one item per read, so nothing is buffered
 * ahead of a slow client; `onCancel` runs first when the client goes away (it aborts the upstream request,
 * which unblocks the generator), then the generator is closed so its cleanup runs, then `afterCancel`.
 */
export function sseResponse(
  frames: AsyncGenerator<string>,
  onCancel: () => void,
  afterCancel: () => void,
  headers: Record<string, string>,
): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await frames.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        } catch (err) {
          try {
            controller.error(err);
          } catch {
            // already cancelled
          }
        }
      },
      async cancel() {
        onCancel();
        await frames.return(undefined);
        // A generator closed before its first pull never ran its cleanup.
        afterCancel();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
      ...headers,
    },
  });
}
