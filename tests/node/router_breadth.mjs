// The official SDKs' smaller calls against tollgate (router breadth
// tests), printing one JSON line with what an application would see, or
// {"error": {"status", "type", "message"}} when the SDK throws:
//
//   node router_breadth.mjs retrieve <baseURL> <apiKey> <model id>
//	openai: client.models.retrieve(id)
//   node router_breadth.mjs count <baseURL> <apiKey> '<request JSON>'
//	@anthropic-ai/sdk: client.messages.countTokens(request)
import http from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const [mode, baseURL, apiKey, arg] = process.argv.slice(2);
const node = parseInt(process.versions.node.split('.')[0], 10);

try {
	if (mode === 'retrieve') {
		const client = new OpenAI({ baseURL, apiKey, maxRetries: 0,
		    timeout: 20000, ...(node < 20 ?
		    { httpAgent: new http.Agent({ keepAlive: false }) } : {}) });
		console.log(JSON.stringify({ model:
		    await client.models.retrieve(arg) }));
	} else {
		const client = new Anthropic({ baseURL, apiKey, maxRetries: 0,
		    timeout: 20000 });
		const { data, response } = await client.messages.countTokens(
		    JSON.parse(arg)).withResponse();
		console.log(JSON.stringify({ count: data, source:
		    response.headers.get('x-tollgate-token-count') }));
	}
} catch (e) {
	console.log(JSON.stringify({ error: {
		status: e.status ?? null,
		type: e.error?.error?.type ?? e.error?.type ?? e.name,
		message: e.message,
	} }));
}
