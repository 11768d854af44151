// The official OpenAI SDK against tollgate's /v1 (router integration
// test): a whole chat completion, a stream read with the SDK's own
// iterator (with the usage chunk), a tool call, embeddings and the model
// list. Prints one JSON object with what the SDK returned.
//
//   TG_BASE_URL=http://127.0.0.1:PORT/v1 TG_API_KEY=tg_... node router_openai.mjs

import http from "node:http";
import OpenAI from "openai";

// Under Node 18, node-fetch 2 (the SDK's transport on Node) reports a
// false "Premature close" for any chunked stream on a kept-alive socket
// (node-fetch's fixResponseChunkedTransferBadEnding); fixed from Node 20.
// Tollgate keeps connections alive after streams, as OpenAI's API does,
// so on Node 18 the SDK needs an agent without keep-alive
// (docs/router.md).
const node = parseInt(process.versions.node.split(".")[0], 10);
const client = new OpenAI({
	baseURL: process.env.TG_BASE_URL,
	apiKey: process.env.TG_API_KEY,
	maxRetries: 0,
	timeout: 20000,
	...(node < 20 ? { httpAgent: new http.Agent({ keepAlive: false }) } :
	    {}),
});
const model = process.env.TG_MODEL || "echo:echo-1";
const out = {};

const whole = await client.chat.completions.create({
	model,
	messages: [
		{ role: "system", content: "be brief" },
		{ role: "user", content: "hello from the sdk" },
	],
});
out.whole = {
	content: whole.choices[0].message.content,
	finish_reason: whole.choices[0].finish_reason,
	usage: whole.usage,
};

const stream = await client.chat.completions.create({
	model,
	messages: [{ role: "user", content: "hello from the sdk" }],
	stream: true,
	stream_options: { include_usage: true },
});
let text = "";
let chunks = 0;
let finish = null;
let usage = null;
for await (const chunk of stream) {
	chunks++;
	for (const c of chunk.choices) {
		text += c.delta?.content ?? "";
		if (c.finish_reason) finish = c.finish_reason;
	}
	if (chunk.usage) usage = chunk.usage;
}
out.stream = { content: text, chunks, finish_reason: finish, usage };

// The SDK's helper that accumulates a stream into a final completion.
const runner = client.beta.chat.completions.stream({
	model,
	messages: [{ role: "user", content: "find cats" }],
	tools: [{ type: "function", function: { name: "search",
	    parameters: { type: "object", properties: {} } } }],
	tool_choice: "required",
});
const final = await runner.finalChatCompletion();
out.tool = final.choices[0].message.tool_calls?.[0]?.function ?? null;

const emb = await client.embeddings.create({
	model: process.env.TG_EMBED_MODEL || "echo:echo-embed",
	input: "vector please",
});
out.embedding = { n: emb.data[0].embedding.length,
    first: emb.data[0].embedding[0] };

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

try {
	await client.chat.completions.create({ model: "nope:nope",
	    messages: [{ role: "user", content: "x" }] });
	out.missing = "no error";
} catch (e) {
	out.missing = { status: e.status, code: e.code, type: e.type };
}

console.log(JSON.stringify(out));
