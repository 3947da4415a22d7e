export type ApiResponse = { status: number; headers: Headers; json: any; text: string };

/**
 * What the test clients keep of an answer, in workerd and in Node alike: the body as
 * text and, where it parses, as JSON (null otherwise).
 */
export async function readResponse(response: Response): Promise<ApiResponse> {
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, json, text };
}
