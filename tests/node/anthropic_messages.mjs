// Calls a Messages API with the official Anthropic SDK and prints what an
// application would see, as one JSON line:
//   {"message": <final message>, "events": [<event types>], "text": ...}
// or {"error": {"status", "type", "message"}} when the SDK throws.
//
//   node anthropic_messages.mjs <baseURL> <apiKey> <stream|whole> '<request JSON>'
//
// Used by the router's integration tests against tollgate's /v1/messages
// (and against the Anthropic fake itself, to keep the fake honest).
import Anthropic from '@anthropic-ai/sdk';

const [baseURL, apiKey, mode, body] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: 30000 });
const req = JSON.parse(body);

try {
	if (mode === 'stream') {
		const stream = client.messages.stream(req);
		const events = [];
		let text = '';
		const toolJson = [];
		stream.on('streamEvent', (ev) => events.push(ev.type));
		stream.on('text', (t) => { text += t; });
		stream.on('inputJson', (partial) => toolJson.push(partial));
		const message = await stream.finalMessage();
		console.log(JSON.stringify({ message, events, text, toolJson }));
	} else {
		const message = await client.messages.create(req);
		console.log(JSON.stringify({ message }));
	}
} catch (e) {
	console.log(JSON.stringify({ error: {
		status: e.status ?? null,
		type: e.error?.error?.type ?? e.error?.type ?? e.name,
		message: e.message,
	} }));
}
