// Official clients against tollgate's POST /v1/responses (the router's
// Responses API tests, tests/integration/test_router_responses_sdk.py):
// the openai SDK (4.x, and 6.x as "openai6", whose stream accumulator
// throws on any event type it does not know) and the Vercel AI SDK's
// default OpenAI provider (ai 6 with @ai-sdk/openai 3, which calls
// nothing but /v1/responses and refers to its earlier output by
// item_reference). One step per run, so the test can script the
// upstream fake for it and check its bill; prints one JSON line with
// what the application sees, or {"error": {...}} when the SDK throws.
//
//   TG_BASE_URL=http://127.0.0.1:PORT/v1 TG_API_KEY=tg_... \
//   TG_MODEL=fake:m node responses_sdk.mjs STEP
//
// Steps:
//   create	responses.create, a whole text answer
//   stream	responses.stream with the helper: events, deltas and
//		finalResponse(), through openai 4 and then openai 6
//   tools	a function-call loop: tools get_weather and get_time, the
//		model calls them (streamed, openai 6), function_call_output
//		items go back with previous_response_id, the model answers
//		in text (whole, openai 4)
//   json	text.format json_schema, output_text parsed
//   ai		AI SDK: generateText with a tool loop (tools that execute,
//		stopWhen stepCountIs(3)), then a second turn, streamed,
//		over the whole history, with a tool loop again

import http from "node:http";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, jsonSchema, stepCountIs, streamText, tool }
    from "ai";
import OpenAI from "openai";
import OpenAI6 from "openai6";

const step = process.argv[2];
const baseURL = process.env.TG_BASE_URL;
const apiKey = process.env.TG_API_KEY;
const model = process.env.TG_MODEL || "fake:m";

// openai 4 on Node 18 needs an agent without keep-alive (see
// router_openai.mjs); no retries anywhere: each call is billed and
// consumes one scripted upstream answer.
const node = parseInt(process.versions.node.split(".")[0], 10);
const oa4 = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000,
    ...(node < 20 ? { httpAgent: new http.Agent({ keepAlive: false }) } :
    {}) });
const oa6 = new OpenAI6({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });

const WEATHER = {
	type: "object",
	properties: {
		location: { type: "string" },
		unit: { type: "string", enum: ["celsius", "fahrenheit"] },
	},
	required: ["location", "unit"],
	additionalProperties: false,
};
const TIME = {
	type: "object",
	properties: { tz: { type: "string" } },
	required: ["tz"],
	additionalProperties: false,
};
const FUNCTIONS = [
	{ type: "function", name: "get_weather", description:
	    "The weather now in a city", parameters: WEATHER, strict: true },
	{ type: "function", name: "get_time", description:
	    "The time now in a time zone", parameters: TIME, strict: true },
];
const CITY = {
	type: "object",
	properties: {
		city: { type: "string" },
		temp_c: { type: "integer" },
	},
	required: ["city", "temp_c"],
	additionalProperties: false,
};

// What the local functions answer, the same for both SDKs.
function weather(args) {
	return { location: args.location, temp: 21, unit: args.unit };
}

function clock(args) {
	return { tz: args.tz, time: "14:05" };
}

function usageOf(r) {
	const u = r.usage;
	return u ? { input_tokens: u.input_tokens, output_tokens:
	    u.output_tokens, cached_tokens:
	    u.input_tokens_details?.cached_tokens ?? null,
	    reasoning_tokens: u.output_tokens_details?.reasoning_tokens ??
	    null } : null;
}

// The text of the output's messages, as output_text is built (openai 4's
// stream helper returns the final response without that convenience).
function textOf(r) {
	return r.output.filter((o) => o.type === "message").flatMap((o) =>
	    o.content).filter((c) => c.type === "output_text").map((c) =>
	    c.text).join("");
}

function summary(r) {
	return {
		id: r.id,
		object: r.object,
		status: r.status,
		model: r.model,
		text: textOf(r),
		types: r.output.map((o) => o.type),
		calls: r.output.filter((o) => o.type === "function_call").map(
		    (o) => ({ id: o.id, call_id: o.call_id, name: o.name,
		    arguments: JSON.parse(o.arguments), status: o.status })),
		usage: usageOf(r),
	};
}

async function create() {
	const r = await oa4.responses.create({ model, instructions:
	    "Be brief.", input: "Say hello to the SDK." });
	return summary(r);
}

// The stream helper of one SDK version: every event's type, the text
// of the deltas, and the final response it assembled.
async function streamWith(client) {
	const s = client.responses.stream({ model, input:
	    "Stream a greeting.", max_output_tokens: 200 });
	const types = [];
	const seq = [];
	let deltas = "";
	for await (const ev of s) {
		types.push(ev.type);
		seq.push(ev.sequence_number);
		if (ev.type === "response.output_text.delta")
			deltas += ev.delta;
	}
	const final = await s.finalResponse();
	return { types, seq, deltas, final: summary(final) };
}

async function stream() {
	return { oa4: await streamWith(oa4), oa6: await streamWith(oa6) };
}

async function tools() {
	// The calls come streamed, through openai 6's strict accumulator.
	const s = oa6.responses.stream({ model, input:
	    "What are the weather and the time in Paris?", tools:
	    FUNCTIONS });
	const types = [];
	for await (const ev of s)
		types.push(ev.type);
	const first = await s.finalResponse();
	const outputs = first.output.filter((o) => o.type ===
	    "function_call").map((o) => {
		const args = JSON.parse(o.arguments);
		const res = o.name === "get_weather" ? weather(args) :
		    clock(args);
		return { type: "function_call_output", call_id: o.call_id,
		    output: JSON.stringify(res) };
	});
	const second = await oa4.responses.create({ model,
	    previous_response_id: first.id, input: outputs, tools:
	    FUNCTIONS });
	return { first: { ...summary(first), events: types }, outputs,
	    second: summary(second) };
}

async function json() {
	const r = await oa4.responses.create({ model, input:
	    "The weather in Paris as JSON.", text: { format: { type:
	    "json_schema", name: "city_weather", schema: CITY, strict:
	    true } } });
	return { ...summary(r), parsed: JSON.parse(textOf(r)) };
}

function stepOf(s) {
	return {
		finish: s.finishReason,
		text: s.text,
		calls: s.toolCalls.map((c) => ({ name: c.toolName, input:
		    c.input })),
		results: s.toolResults.map((c) => ({ name: c.toolName,
		    output: c.output })),
		usage: { input_tokens: s.usage.inputTokens, output_tokens:
		    s.usage.outputTokens },
		response_id: s.response?.id ?? null,
	};
}

async function ai() {
	const openai = createOpenAI({ baseURL, apiKey });
	const aiTools = {
		get_weather: tool({ description: "The weather now in a city",
		    inputSchema: jsonSchema(WEATHER), execute: async (a) =>
		    weather(a) }),
		get_time: tool({ description: "The time now in a time zone",
		    inputSchema: jsonSchema(TIME), execute: async (a) =>
		    clock(a) }),
	};
	const messages = [{ role: "user", content:
	    "What are the weather and the time in Paris?" }];
	const one = await generateText({ model: openai(model), messages,
	    tools: aiTools, stopWhen: stepCountIs(3), maxRetries: 0 });
	// The next turn sends the whole history back: the earlier
	// assistant text as item_reference, the calls and results inline.
	messages.push(...one.response.messages);
	messages.push({ role: "user", content: "And tomorrow?" });
	let streamError = null;
	const two = streamText({ model: openai(model), messages, tools:
	    aiTools, stopWhen: stepCountIs(3), maxRetries: 0,
	    onError: ({ error }) => { streamError = error; } });
	// textStream runs over every step; text is the last step's.
	let streamed = "";
	for await (const d of two.textStream)
		streamed += d;
	if (streamError !== null)
		throw streamError;
	const steps = await two.steps;
	return { turn1: { text: one.text, steps: one.steps.map(stepOf) },
	    turn2: { text: await two.text, streamed, steps:
	    steps.map(stepOf) } };
}

const STEPS = { create, stream, tools, json, ai };

try {
	if (!(step in STEPS))
		throw new Error("unknown step " + step);
	console.log(JSON.stringify(await STEPS[step]()));
} catch (e) {
	console.log(JSON.stringify({ error: {
		name: e.name ?? null,
		status: e.status ?? e.statusCode ?? null,
		code: e.code ?? e.error?.code ?? null,
		message: String(e.message ?? e),
		body: e.responseBody ?? e.error ?? null,
	} }));
}
