/*
 * The /v1/responses surface: Responses requests to chat requests (with
 * the store's resolved context), chat answers to Response objects, and
 * chat chunks to the Responses event stream, checked the way the SDKs
 * read it: only documented types in their order, sequence_number from
 * 0, one id per item through added / delta / done / terminal event,
 * and a terminal event equal to what the store saves.
 *
 * Fixtures are written with ' for " (Q()) to stay readable.
 */

#include "tg_test.h"
#include "family_fixture.h"
#include "router/request.h"
#include "router/responses.h"

#define RID	"resp_00112233445566778899aabbccddeeff0011223344556677"
#define HEX	"00112233445566778899aabbccddeeff0011223344556677"

/* JSON from a fixture with ' standing for ". */
static json_t *
Q(const char *s)
{
	char	*d, *p;
	json_t	*j;

	d = strdup(s);
	ck_assert_ptr_nonnull(d);
	for (p = d; *p != '\0'; p++) {
		if (*p == '\'')
			*p = '"';
	}
	j = fx_json(d);
	free(d);
	return (j);
}

struct xl {
	json_t		*out;
	int		 status;
	const char	*code;
	const char	*param;
	char		 err[256];
};

static void
xlate(struct xl *x, const char *req, const char *prior)
{
	json_t	*r, *p;

	r = Q(req);
	p = prior != NULL ? Q(prior) : NULL;
	x->out = router_responses_request_to_openai(r, p, &x->status,
	    &x->code, &x->param, x->err, sizeof(x->err));
	json_decref(r);
	json_decref(p);
}

/*
 * req translates to exactly want, and the router's own chat checks
 * (what /v1/chat/completions applies) accept it.
 */
static void
expect_chat(const char *req, const char *prior, const char *want)
{
	struct router_chat_req	 cr;
	struct router_problem	 pb;
	struct xl		 x;
	json_t			*w;

	xlate(&x, req, prior);
	ck_assert_msg(x.out != NULL, "%d %s %s", x.status, x.code, x.err);
	w = Q(want);
	fx_assert_equal(x.out, w);
	json_decref(w);
	ck_assert_msg(router_chat_check(x.out, &cr, &pb), "chat check: %s "
	    "%s %s", pb.code, pb.param, pb.message);
	json_decref(x.out);
}

static void
expect_refusal(const char *req, const char *prior, const char *code,
    const char *param)
{
	struct xl	 x;

	xlate(&x, req, prior);
	ck_assert_msg(x.out == NULL, "accepted: %s", req);
	ck_assert_int_eq(x.status, 400);
	ck_assert_str_eq(x.code, code);
	if (param == NULL)
		ck_assert_ptr_null(x.param);
	else
		ck_assert_str_eq(x.param, param);
	ck_assert_msg(x.err[0] != '\0', "no message");
}

START_TEST(request_string_input)
{
	expect_chat("{'model':'openai:gpt-4o','input':'Hi',"
	    "'instructions':'Be brief.','max_output_tokens':50,"
	    "'temperature':0.5,'top_p':0.9,'store':false,"
	    "'metadata':{'a':'b'},'user':'u1','safety_identifier':'s',"
	    "'include':['reasoning.encrypted_content'],'truncation':'auto',"
	    "'service_tier':'auto','prompt_cache_key':'k','background':false,"
	    "'previous_response_id':null,'stream':true,"
	    "'stream_options':{'include_obfuscation':false},"
	    "'reasoning':{'effort':'low','summary':'auto'},"
	    "'text':{'format':{'type':'text'}}}", NULL,
	    "{'model':'openai:gpt-4o','messages':["
	    "{'role':'system','content':'Be brief.'},"
	    "{'role':'user','content':'Hi'}],"
	    "'temperature':0.5,'top_p':0.9,'max_completion_tokens':50,"
	    "'reasoning_effort':'low','stream':true,"
	    "'stream_options':{'include_usage':true}}");
}
END_TEST

/*
 * A function-call loop as the AI SDK and LangChain send it: system and
 * developer turns, a message without "type", an earlier output message
 * sent back with id and status, a reasoning item (dropped), two calls
 * after the assistant text (one assistant message), their outputs.
 */
START_TEST(request_function_loop)
{
	expect_chat("{'model':'m','input':["
	    "{'role':'system','content':'Sys.'},"
	    "{'role':'developer','content':[{'type':'input_text','text':'Dev.'}]},"
	    "{'role':'user','content':[{'type':'input_text','text':'Weather?'}]},"
	    "{'type':'reasoning','id':'rs_1','summary':[{'type':'summary_text',"
	    "'text':'think'}],'encrypted_content':'xx'},"
	    "{'type':'message','id':'msg_1','status':'completed','role':"
	    "'assistant','content':[{'type':'output_text','text':'Checking.',"
	    "'annotations':[]}]},"
	    "{'type':'function_call','id':'fc_1','status':'completed',"
	    "'call_id':'call_1','name':'weather','arguments':'{\\'city\\':\\'Paris\\'}'},"
	    "{'type':'function_call','call_id':'call_2','name':'time',"
	    "'arguments':'{}'},"
	    "{'type':'function_call_output','call_id':'call_1','output':'21C'},"
	    "{'type':'function_call_output','call_id':'call_2','output':["
	    "{'type':'input_text','text':'14:'},{'type':'input_text','text':'02'}]},"
	    "{'type':'function_call','call_id':'call_3','name':'time',"
	    "'arguments':'{}'}],"
	    "'tools':[{'type':'function','name':'weather','description':'W',"
	    "'parameters':{'type':'object','properties':{'city':{'type':'string'}}},"
	    "'strict':true},{'type':'function','name':'time','parameters':"
	    "{'type':'object'}}],"
	    "'tool_choice':{'type':'function','name':'weather'},"
	    "'parallel_tool_calls':false}", NULL,
	    "{'model':'m','messages':["
	    "{'role':'system','content':'Sys.'},"
	    "{'role':'developer','content':'Dev.'},"
	    "{'role':'user','content':[{'type':'text','text':'Weather?'}]},"
	    "{'role':'assistant','content':'Checking.','tool_calls':["
	    "{'id':'call_1','type':'function','function':{'name':'weather',"
	    "'arguments':'{\\'city\\':\\'Paris\\'}'}},"
	    "{'id':'call_2','type':'function','function':{'name':'time',"
	    "'arguments':'{}'}}]},"
	    "{'role':'tool','tool_call_id':'call_1','content':'21C'},"
	    "{'role':'tool','tool_call_id':'call_2','content':'14:02'},"
	    "{'role':'assistant','content':null,'tool_calls':["
	    "{'id':'call_3','type':'function','function':{'name':'time',"
	    "'arguments':'{}'}}]}],"
	    "'tools':[{'type':'function','function':{'name':'weather',"
	    "'description':'W','parameters':{'type':'object','properties':"
	    "{'city':{'type':'string'}}},'strict':true}},"
	    "{'type':'function','function':{'name':'time','parameters':"
	    "{'type':'object'}}}],"
	    "'parallel_tool_calls':false,"
	    "'tool_choice':{'type':'function','function':{'name':'weather'}}}");
}
END_TEST

START_TEST(request_images_and_files)
{
	expect_chat("{'model':'m','input':[{'role':'user','content':["
	    "{'type':'input_text','text':'Look:'},"
	    "{'type':'input_image','image_url':'data:image/png;base64,iVBO',"
	    "'detail':'low'},"
	    "{'type':'input_image','image_url':{'url':'https://e.com/a.jpg'}},"
	    "{'type':'input_file','filename':'a.pdf','file_data':"
	    "'data:application/pdf;base64,JVBERi0'}]}]}", NULL,
	    "{'model':'m','messages':[{'role':'user','content':["
	    "{'type':'text','text':'Look:'},"
	    "{'type':'image_url','image_url':{'url':"
	    "'data:image/png;base64,iVBO','detail':'low'}},"
	    "{'type':'image_url','image_url':{'url':'https://e.com/a.jpg'}},"
	    "{'type':'file','file':{'filename':'a.pdf','file_data':"
	    "'data:application/pdf;base64,JVBERi0'}}]}]}");
	expect_refusal("{'model':'m','input':[{'role':'user','content':["
	    "{'type':'input_image','file_id':'file-1'}]}]}", NULL,
	    "unsupported_value", "input[0].content[0]");
	expect_refusal("{'model':'m','input':[{'role':'user','content':["
	    "{'type':'input_file','file_id':'file-1'}]}]}", NULL,
	    "unsupported_value", "input[0].content[0]");
	expect_refusal("{'model':'m','input':[{'role':'user','content':["
	    "{'type':'input_file','file_data':'JVBERi0'}]}]}", NULL,
	    "invalid_value", "input[0].content[0]");
}
END_TEST

START_TEST(request_json_formats)
{
	expect_chat("{'model':'m','input':'x','text':{'format':{"
	    "'type':'json_schema','name':'city','schema':{'type':'object'},"
	    "'strict':true},'verbosity':'low'}}", NULL,
	    "{'model':'m','messages':[{'role':'user','content':'x'}],"
	    "'response_format':{'type':'json_schema','json_schema':{"
	    "'name':'city','schema':{'type':'object'},'strict':true}}}");
	expect_chat("{'model':'m','input':'x','text':{'format':{"
	    "'type':'json_schema','name':'city','schema':{'type':'object'}}}}",
	    NULL, "{'model':'m','messages':[{'role':'user','content':'x'}],"
	    "'response_format':{'type':'json_schema','json_schema':{"
	    "'name':'city','schema':{'type':'object'}}}}");
	expect_chat("{'model':'m','input':'x','text':{'format':{"
	    "'type':'json_object'}}}", NULL,
	    "{'model':'m','messages':[{'role':'user','content':'x'}],"
	    "'response_format':{'type':'json_object'}}");
	expect_refusal("{'model':'m','input':'x','text':{'format':{"
	    "'type':'json_schema','schema':{}}}}", NULL, "missing_field",
	    "text.format.name");
	expect_refusal("{'model':'m','input':'x','text':{'format':{"
	    "'type':'xml'}}}", NULL, "invalid_value", "text.format.type");
}
END_TEST

/*
 * The store's context: the previous chain first (after instructions,
 * which are not inherited), then input with references inlined.
 */
START_TEST(request_prior)
{
	static const char	*prior = "{'previous':["
	    "{'type':'message','role':'user','content':[{'type':'input_text',"
	    "'text':'Hi'}]},"
	    "{'type':'message','id':'msg_a','status':'completed','role':"
	    "'assistant','content':[{'type':'output_text','text':'Hello',"
	    "'annotations':[]}]}],"
	    "'items':{'msg_b':{'type':'message','id':'msg_b','role':"
	    "'assistant','content':[{'type':'output_text','text':'Sunny',"
	    "'annotations':[]}]},"
	    "'rs_b':{'type':'reasoning','id':'rs_b','summary':[]}}}";

	expect_chat("{'model':'m','instructions':'Now.',"
	    "'previous_response_id':'resp_a','input':["
	    "{'role':'user','content':'Weather?'},"
	    "{'type':'item_reference','id':'rs_b'},"
	    "{'type':'item_reference','id':'msg_b'},"
	    "{'type':'function_call','call_id':'c1','name':'f','arguments':'{}'},"
	    "{'type':'function_call_output','call_id':'c1','output':'ok'}]}",
	    prior,
	    "{'model':'m','messages':["
	    "{'role':'system','content':'Now.'},"
	    "{'role':'user','content':[{'type':'text','text':'Hi'}]},"
	    "{'role':'assistant','content':'Hello'},"
	    "{'role':'user','content':'Weather?'},"
	    "{'role':'assistant','content':'Sunny','tool_calls':[{'id':'c1',"
	    "'type':'function','function':{'name':'f','arguments':'{}'}}]},"
	    "{'role':'tool','tool_call_id':'c1','content':'ok'}]}");
	expect_refusal("{'model':'m','input':[{'type':'item_reference',"
	    "'id':'msg_zz'}]}", prior, "previous_response_not_found",
	    "input");
	expect_refusal("{'model':'m','input':[{'type':'item_reference',"
	    "'id':'msg_b'}]}", NULL, "previous_response_not_found", "input");
}
END_TEST

START_TEST(request_refused)
{
	expect_refusal("{'input':'x'}", NULL, "missing_field", "model");
	expect_refusal("{'model':7,'input':'x'}", NULL, "invalid_value",
	    "model");
	expect_refusal("{'model':'m'}", NULL, "missing_field", "input");
	expect_refusal("{'model':'m','input':{}}", NULL, "invalid_value",
	    "input");
	expect_refusal("{'model':'m','input':[]}", NULL, "invalid_value",
	    "input");
	expect_refusal("[1]", NULL, "invalid_value", NULL);
	expect_refusal("{'model':'m','input':'x','tools':[{'type':"
	    "'function','name':'f'},{'type':'web_search'}]}", NULL,
	    "unsupported_tool", "tools[1].type");
	expect_refusal("{'model':'m','input':'x','tools':[{'type':"
	    "'function'}]}", NULL, "missing_field", "tools[0].name");
	expect_refusal("{'model':'m','input':'x','tools':[{'type':"
	    "'function','name':'f'}],'tool_choice':{'type':'file_search'}}",
	    NULL, "unsupported_tool", "tool_choice.type");
	expect_refusal("{'model':'m','input':'x','tool_choice':'any'}",
	    NULL, "invalid_value", "tool_choice");
	expect_refusal("{'model':'m','input':'x','background':true}", NULL,
	    "unsupported_value", "background");
	expect_refusal("{'model':'m','input':'x','conversation':'c1'}", NULL,
	    "unknown_parameter", "conversation");
	expect_refusal("{'model':'m','input':'x','max_output_tokens':0}",
	    NULL, "invalid_value", "max_output_tokens");
	expect_refusal("{'model':'m','input':'x','max_output_tokens':'9'}",
	    NULL, "invalid_value", "max_output_tokens");
	expect_refusal("{'model':'m','input':'x','temperature':'hot'}",
	    NULL, "invalid_value", "temperature");
	expect_refusal("{'model':'m','input':'x','stream':'yes'}", NULL,
	    "invalid_value", "stream");
	expect_refusal("{'model':'m','input':'x','instructions':[1]}", NULL,
	    "invalid_value", "instructions");
	expect_refusal("{'model':'m','input':[{'role':'tool','content':"
	    "'x'}]}", NULL, "invalid_value", "input[0].role");
	expect_refusal("{'model':'m','input':[{'content':'x'}]}", NULL,
	    "missing_field", "input[0]");
	expect_refusal("{'model':'m','input':[{'type':'web_search_call'}]}",
	    NULL, "invalid_value", "input[0]");
	expect_refusal("{'model':'m','input':[{'type':'function_call',"
	    "'call_id':'c','name':'f'}]}", NULL, "invalid_value", "input[0]");
	expect_refusal("{'model':'m','input':[{'role':'assistant','content':"
	    "[{'type':'input_image','image_url':'u'}]}]}", NULL,
	    "invalid_value", "input[0].content");
}
END_TEST

START_TEST(refs_for_the_store)
{
	struct router_responses_refs	 refs;
	const char			*param;
	char				 err[128];
	json_t				*req;
	int				 status;

	req = Q("{'model':'m','previous_response_id':'resp_p','input':["
	    "{'role':'user','content':'x'},{'type':'item_reference','id':"
	    "'msg_1'},{'type':'item_reference','id':'rs_2'}]}");
	ck_assert(router_responses_refs(req, &refs, &status, &param, err,
	    sizeof(err)));
	ck_assert_str_eq(refs.prev, "resp_p");
	ck_assert_int_eq(refs.nids, 2);
	ck_assert_str_eq(refs.ids[0], "msg_1");
	ck_assert_str_eq(refs.ids[1], "rs_2");
	json_decref(req);

	req = Q("{'model':'m','input':'x'}");
	ck_assert(router_responses_refs(req, &refs, &status, &param, err,
	    sizeof(err)));
	ck_assert_str_eq(refs.prev, "");
	ck_assert_int_eq(refs.nids, 0);
	json_decref(req);

	req = Q("{'model':'m','input':[{'type':'item_reference','id':3}]}");
	ck_assert(!router_responses_refs(req, &refs, &status, &param, err,
	    sizeof(err)));
	ck_assert_int_eq(status, 400);
	ck_assert_str_eq(param, "input[0].id");
	json_decref(req);

	req = Q("{'model':'m','input':'x','previous_response_id':5}");
	ck_assert(!router_responses_refs(req, &refs, &status, &param, err,
	    sizeof(err)));
	ck_assert_str_eq(param, "previous_response_id");
	json_decref(req);
}
END_TEST

START_TEST(input_items_as_stored)
{
	json_t	*req, *prior, *items, *want;

	req = Q("{'model':'m','input':'Hi'}");
	items = router_responses_input_items(req, NULL);
	want = Q("[{'type':'message','role':'user','content':[{'type':"
	    "'input_text','text':'Hi'}]}]");
	fx_assert_equal(items, want);
	json_decref(items);
	json_decref(want);
	json_decref(req);

	req = Q("{'model':'m','input':[{'role':'user','content':'a'},"
	    "{'type':'item_reference','id':'msg_1'},"
	    "{'type':'item_reference','id':'msg_9'}]}");
	prior = Q("{'items':{'msg_1':{'type':'message','id':'msg_1','role':"
	    "'assistant','content':[]}}}");
	items = router_responses_input_items(req, prior);
	want = Q("[{'role':'user','content':'a'},{'type':'message','id':"
	    "'msg_1','role':'assistant','content':[]},{'type':"
	    "'item_reference','id':'msg_9'}]");
	fx_assert_equal(items, want);
	json_decref(items);
	json_decref(want);
	json_decref(prior);
	json_decref(req);
}
END_TEST

/* The fields every Response echoes from this request. */
#define ECHO_REQ "{'model':'fast','input':'x','instructions':'Be brief.'," \
	"'max_output_tokens':100,'temperature':0.2," \
	"'text':{'format':{'type':'json_object'}}}"
#define ECHO_OUT "'instructions':'Be brief.','parallel_tool_calls':true," \
	"'previous_response_id':null,'reasoning':{'effort':null," \
	"'summary':null},'store':true,'temperature':0.2,'text':{'format':" \
	"{'type':'json_object'}},'tool_choice':'auto','tools':[]," \
	"'top_p':null,'max_output_tokens':100,'metadata':{}"

START_TEST(response_text)
{
	json_t	*req, *comp, *resp, *want;

	req = Q(ECHO_REQ);
	comp = Q("{'id':'chatcmpl-1','object':'chat.completion','model':"
	    "'gpt-4o-2024','choices':[{'index':0,'message':{'role':"
	    "'assistant','content':'Hi there'},'finish_reason':'stop'}],"
	    "'usage':{'prompt_tokens':120,'completion_tokens':30,"
	    "'prompt_tokens_details':{'cached_tokens':100},"
	    "'completion_tokens_details':{'reasoning_tokens':12}}}");
	resp = router_responses_from_openai(comp, NULL, RID, "fast",
	    1735000000, req);
	want = Q("{'id':'" RID "','object':'response','created_at':1735000000,"
	    "'status':'completed','error':null,'incomplete_details':null,"
	    "'model':'fast','output':[{'type':'message','id':'msg_" HEX "_0',"
	    "'status':'completed','role':'assistant','content':[{'type':"
	    "'output_text','text':'Hi there','annotations':[]}]}],"
	    "'usage':{'input_tokens':120,'input_tokens_details':{"
	    "'cached_tokens':100},'output_tokens':30,'output_tokens_details':"
	    "{'reasoning_tokens':12},'total_tokens':150}," ECHO_OUT "}");
	fx_assert_equal(resp, want);
	json_decref(want);
	json_decref(resp);
	json_decref(comp);
	json_decref(req);
}
END_TEST

START_TEST(response_reasoning_and_calls)
{
	struct router_usage	 u;
	json_t			*req, *comp, *resp, *want;

	req = Q("{'model':'m','input':'x'}");
	comp = Q("{'choices':[{'index':0,'message':{'role':'assistant',"
	    "'content':'Checking.','reasoning_content':'hmm','tool_calls':["
	    "{'id':'call_a','type':'function','function':{'name':'f',"
	    "'arguments':'{}'}},{'id':'call_b','type':'function','function':"
	    "{'name':'g','arguments':'{\\'x\\':1}'}}]},'finish_reason':"
	    "'tool_calls'}],'usage':{'prompt_tokens':1,'completion_tokens':1}}");
	memset(&u, 0, sizeof(u));
	u.prompt_tokens = 2572;
	u.cached_tokens = 2000;
	u.cache_creation_tokens = 100;
	u.completion_tokens = 89;
	u.reasoning_tokens = 40;
	resp = router_responses_from_openai(comp, &u, RID, "m", 1, req);
	want = Q("[{'type':'reasoning','id':'rs_" HEX "_0','summary':[{"
	    "'type':'summary_text','text':'hmm'}]},"
	    "{'type':'message','id':'msg_" HEX "_1','status':'completed',"
	    "'role':'assistant','content':[{'type':'output_text','text':"
	    "'Checking.','annotations':[]}]},"
	    "{'type':'function_call','id':'fc_" HEX "_2','status':'completed',"
	    "'call_id':'call_a','name':'f','arguments':'{}'},"
	    "{'type':'function_call','id':'fc_" HEX "_3','status':'completed',"
	    "'call_id':'call_b','name':'g','arguments':'{\\'x\\':1}'}]");
	fx_assert_equal(json_object_get(resp, "output"), want);
	json_decref(want);
	/* the router's usage wins over the completion's */
	want = Q("{'input_tokens':2572,'input_tokens_details':{"
	    "'cached_tokens':2000},'output_tokens':89,'output_tokens_details':"
	    "{'reasoning_tokens':40},'total_tokens':2661}");
	fx_assert_equal(json_object_get(resp, "usage"), want);
	json_decref(want);
	ck_assert_str_eq(json_string_value(json_object_get(resp, "status")),
	    "completed");
	json_decref(resp);
	json_decref(comp);

	/* only calls: no empty message item */
	comp = Q("{'choices':[{'index':0,'message':{'role':'assistant',"
	    "'content':null,'tool_calls':[{'id':'call_a','type':'function',"
	    "'function':{'name':'f','arguments':'{}'}}]},'finish_reason':"
	    "'tool_calls'}]}");
	resp = router_responses_from_openai(comp, NULL, RID, "m", 1, req);
	ck_assert_int_eq(json_array_size(json_object_get(resp, "output")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(resp, "output"), 0), "id")), "fc_" HEX "_0");
	json_decref(resp);
	json_decref(comp);

	comp = Q("{'choices':[]}");
	ck_assert_ptr_null(router_responses_from_openai(comp, NULL, RID, "m",
	    1, req));
	json_decref(comp);
	json_decref(req);
}
END_TEST

START_TEST(response_incomplete)
{
	static const char	*finish[][2] = {
		{ "length", "max_output_tokens" },
		{ "content_filter", "content_filter" },
	};
	json_t			*req, *comp, *resp, *want;
	char			*s;
	size_t			 i;

	req = Q("{'model':'m','input':'x'}");
	for (i = 0; i < sizeof(finish) / sizeof(finish[0]); i++) {
		s = router_xlate_printf("{'choices':[{'index':0,'message':{"
		    "'role':'assistant','content':'Hal'},'finish_reason':"
		    "'%s'}]}", finish[i][0]);
		comp = Q(s);
		free(s);
		resp = router_responses_from_openai(comp, NULL, RID, "m", 1,
		    req);
		ck_assert_str_eq(json_string_value(json_object_get(resp,
		    "status")), "incomplete");
		s = router_xlate_printf("{'reason':'%s'}", finish[i][1]);
		want = Q(s);
		free(s);
		fx_assert_equal(json_object_get(resp, "incomplete_details"),
		    want);
		json_decref(want);
		json_decref(resp);
		json_decref(comp);
	}
	json_decref(req);
}
END_TEST

/* Streaming. */

static json_t *
chunk(const char *delta, const char *finish)
{
	char	*s;
	json_t	*c;

	s = router_xlate_printf("{'id':'chatcmpl-7','object':"
	    "'chat.completion.chunk','created':1,'model':'gpt-4o',"
	    "'choices':[{'index':0,'delta':%s,'finish_reason':%s}]}",
	    delta, finish ? finish : "null");
	c = Q(s);
	free(s);
	return (c);
}

static void
feed(struct router_responses_stream *rs, struct router_xbuf *out,
    const char *delta, const char *finish)
{
	json_t	*c;

	c = chunk(delta, finish);
	ck_assert(router_responses_stream_chunk(rs, c, out));
	json_decref(c);
}

static void
feed_usage(struct router_responses_stream *rs, struct router_xbuf *out)
{
	json_t	*c;

	c = Q("{'id':'chatcmpl-7','object':'chat.completion.chunk',"
	    "'choices':[],'usage':{'prompt_tokens':20,'completion_tokens':7,"
	    "'completion_tokens_details':{'reasoning_tokens':3}}}");
	ck_assert(router_responses_stream_chunk(rs, c, out));
	json_decref(c);
}

/*
 * The events of out as a list of data objects, checking the framing:
 * "event: <t>\ndata: <json with type t>\n\n", sequence numbers 0..n in
 * order, no [DONE], no top-level "error" key.
 */
static json_t *
events(const struct router_xbuf *out)
{
	json_t		*list, *e;
	const char	*p, *nl, *end;
	char		*type, *data;
	json_int_t	 seq;

	list = json_array();
	ck_assert_ptr_nonnull(out->data);
	ck_assert_ptr_null(strstr(out->data, "[DONE]"));
	p = out->data;
	end = out->data + out->len;
	seq = 0;
	while (p < end) {
		ck_assert_msg(!strncmp(p, "event: ", 7), "framing at %s", p);
		nl = strchr(p, '\n');
		type = strndup(p + 7, (size_t)(nl - p - 7));
		p = nl + 1;
		ck_assert(!strncmp(p, "data: ", 6));
		nl = strstr(p, "\n\n");
		ck_assert_ptr_nonnull(nl);
		data = strndup(p + 6, (size_t)(nl - p - 6));
		p = nl + 2;
		e = fx_json(data);
		ck_assert_str_eq(json_string_value(json_object_get(e,
		    "type")), type);
		ck_assert_ptr_null(json_object_get(e, "error"));
		ck_assert_int_eq(json_integer_value(json_object_get(e,
		    "sequence_number")), seq);
		seq++;
		json_array_append_new(list, e);
		free(type);
		free(data);
	}
	return (list);
}

/* The event types, space-separated, without the "response." prefix. */
static char *
types(const json_t *list)
{
	struct router_xbuf	 b = { NULL, 0, 0 };
	const json_t		*e;
	size_t			 i;

	json_array_foreach(list, i, e) {
		if (i > 0)
			router_xbuf_str(&b, " ");
		router_xbuf_str(&b, json_string_value(json_object_get(e,
		    "type")) + strlen("response."));
	}
	return (b.data);
}

/*
 * Every item event names an item opened by output_item.added at that
 * output_index, with that id, and the terminal output has the same
 * items, in that order, as their output_item.done said.
 */
static void
check_items(const json_t *list, const json_t *output)
{
	const json_t	*e, *item, *done;
	const char	*type, *id;
	json_int_t	 idx, open = -1, next = 0;
	size_t		 i;

	json_array_foreach(list, i, e) {
		type = json_string_value(json_object_get(e, "type"));
		idx = router_xlate_int(e, "output_index", -1);
		id = json_string_value(json_object_get(e, "item_id"));
		item = json_object_get(e, "item");
		if (!strcmp(type, "response.output_item.added")) {
			ck_assert_int_eq(open, -1);
			ck_assert_int_eq(idx, next);
			ck_assert_str_eq(json_string_value(json_object_get(
			    item, "id")), json_string_value(json_object_get(
			    json_array_get(output, (size_t)idx), "id")));
			open = next++;
			continue;
		}
		if (idx < 0)
			continue;
		ck_assert_int_eq(idx, open);
		done = json_array_get(output, (size_t)idx);
		ck_assert_ptr_nonnull(done);
		if (id != NULL)
			ck_assert_str_eq(id, json_string_value(
			    json_object_get(done, "id")));
		if (!strcmp(type, "response.output_item.done")) {
			fx_assert_equal(item, done);
			open = -1;
		}
	}
	ck_assert_int_eq(open, -1);
	ck_assert_int_eq(next, (json_int_t)json_array_size(output));
}

/*
 * Runs the end of a stream: result, then finish; checks the terminal
 * event carries exactly the result. Returns the events.
 */
static json_t *
finish_stream(struct router_responses_stream *rs, struct router_xbuf *out,
    json_t **result)
{
	json_t		*list, *last;

	*result = router_responses_stream_result(rs, NULL, out);
	ck_assert_ptr_nonnull(*result);
	ck_assert(router_responses_stream_finish(rs, *result, out));
	/* ended: nothing more goes out */
	feed(rs, out, "{'content':'late'}", NULL);
	ck_assert(router_responses_stream_fail(rs, NULL, "x", out));
	list = events(out);
	last = json_array_get(list, json_array_size(list) - 1);
	fx_assert_equal(json_object_get(last, "response"), *result);
	check_items(list, json_object_get(*result, "output"));
	return (list);
}

static void
start(struct router_responses_stream *rs, json_t **req)
{
	*req = Q("{'model':'fast','input':'x','stream':true,"
	    "'instructions':'Be brief.'}");
	ck_assert(router_responses_stream_init(rs, RID, "fast", 1735000000,
	    *req));
}

START_TEST(stream_text)
{
	struct router_responses_stream	 rs;
	struct router_xbuf		 out = { NULL, 0, 0 };
	json_t				*req, *list, *resp, *want, *e;
	char				*t;

	start(&rs, &req);
	ck_assert(router_responses_stream_start(&rs, &out));
	ck_assert(router_responses_stream_ping(&out));
	ck_assert_str_eq(out.data + out.len - 13, ": keepalive\n\n");
	out.len -= 13;	/* a comment, not an event */
	feed(&rs, &out, "{'role':'assistant','content':''}", NULL);
	feed(&rs, &out, "{'content':'Hel'}", NULL);
	feed(&rs, &out, "{'content':'lo'}", NULL);
	feed(&rs, &out, "{}", "'stop'");
	feed_usage(&rs, &out);
	list = finish_stream(&rs, &out, &resp);
	t = types(list);
	ck_assert_str_eq(t, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.delta "
	    "output_text.done content_part.done output_item.done completed");
	free(t);

	/* created: a full in-progress Response with no output */
	e = json_object_get(json_array_get(list, 0), "response");
	want = Q("{'id':'" RID "','object':'response','created_at':"
	    "1735000000,'status':'in_progress','error':null,"
	    "'incomplete_details':null,'instructions':'Be brief.','model':"
	    "'fast','output':[],'parallel_tool_calls':true,"
	    "'previous_response_id':null,'reasoning':{'effort':null,"
	    "'summary':null},'store':true,'temperature':null,'text':{"
	    "'format':{'type':'text'}},'tool_choice':'auto','tools':[],"
	    "'top_p':null,'max_output_tokens':null,'metadata':{},"
	    "'usage':null}");
	fx_assert_equal(e, want);
	json_decref(want);

	e = json_array_get(list, 4);
	want = Q("{'type':'response.output_text.delta','item_id':'msg_" HEX
	    "_0','output_index':0,'content_index':0,'delta':'Hel',"
	    "'sequence_number':4}");
	fx_assert_equal(e, want);
	json_decref(want);
	e = json_array_get(list, 6);
	ck_assert_str_eq(json_string_value(json_object_get(e, "text")),
	    "Hello");

	want = Q("{'input_tokens':20,'input_tokens_details':{"
	    "'cached_tokens':0},'output_tokens':7,'output_tokens_details':{"
	    "'reasoning_tokens':3},'total_tokens':27}");
	fx_assert_equal(json_object_get(resp, "usage"), want);
	json_decref(want);
	ck_assert_str_eq(json_string_value(json_object_get(resp, "status")),
	    "completed");

	/* the whole answer of the same completion is the same Response */
	e = Q("{'choices':[{'index':0,'message':{'role':'assistant',"
	    "'content':'Hello'},'finish_reason':'stop'}],'usage':{"
	    "'prompt_tokens':20,'completion_tokens':7,"
	    "'completion_tokens_details':{'reasoning_tokens':3}}}");
	want = router_responses_from_openai(e, NULL, RID, "fast", 1735000000,
	    req);
	fx_assert_equal(resp, want);
	json_decref(want);
	json_decref(e);

	json_decref(resp);
	json_decref(list);
	router_xbuf_free(&out);
	router_responses_stream_free(&rs);
	json_decref(req);
}
END_TEST

START_TEST(stream_reasoning_then_text)
{
	struct router_responses_stream	 rs;
	struct router_xbuf		 out = { NULL, 0, 0 };
	json_t				*req, *list, *resp, *want;
	char				*t;

	start(&rs, &req);
	/* no explicit start: the first chunk starts the stream */
	feed(&rs, &out, "{'role':'assistant','reasoning_content':'Let '}",
	    NULL);
	feed(&rs, &out, "{'reasoning':'me see'}", NULL);
	feed(&rs, &out, "{'content':'42'}", "'stop'");
	list = finish_stream(&rs, &out, &resp);
	t = types(list);
	ck_assert_str_eq(t, "created in_progress output_item.added "
	    "reasoning_summary_part.added reasoning_summary_text.delta "
	    "reasoning_summary_text.delta reasoning_summary_text.done "
	    "reasoning_summary_part.done output_item.done "
	    "output_item.added content_part.added output_text.delta "
	    "output_text.done content_part.done output_item.done completed");
	free(t);
	want = Q("{'type':'response.output_item.added','output_index':0,"
	    "'item':{'type':'reasoning','id':'rs_" HEX "_0','summary':[]},"
	    "'sequence_number':2}");
	fx_assert_equal(json_array_get(list, 2), want);
	json_decref(want);
	want = Q("[{'type':'reasoning','id':'rs_" HEX "_0','summary':[{"
	    "'type':'summary_text','text':'Let me see'}]},{'type':'message',"
	    "'id':'msg_" HEX "_1','status':'completed','role':'assistant',"
	    "'content':[{'type':'output_text','text':'42','annotations':[]}]}]");
	fx_assert_equal(json_object_get(resp, "output"), want);
	json_decref(want);
	json_decref(resp);
	json_decref(list);
	router_xbuf_free(&out);
	router_responses_stream_free(&rs);
	json_decref(req);
}
END_TEST

/* Text, then two parallel calls whose arguments come in pieces. */
START_TEST(stream_parallel_calls)
{
	struct router_responses_stream	 rs;
	struct router_xbuf		 out = { NULL, 0, 0 };
	json_t				*req, *list, *resp, *want, *e;
	char				*t;

	start(&rs, &req);
	feed(&rs, &out, "{'role':'assistant','content':'Checking.'}", NULL);
	feed(&rs, &out, "{'tool_calls':[{'index':0,'id':'call_a','type':"
	    "'function','function':{'name':'weather','arguments':''}}]}",
	    NULL);
	feed(&rs, &out, "{'tool_calls':[{'index':0,'function':{'arguments':"
	    "'{\\'city\\':'}}]}", NULL);
	feed(&rs, &out, "{'tool_calls':[{'index':0,'function':{'arguments':"
	    "'\\'Paris\\'}'}}]}", NULL);
	feed(&rs, &out, "{'tool_calls':[{'index':1,'id':'call_b','type':"
	    "'function','function':{'name':'time','arguments':'{'}}]}", NULL);
	feed(&rs, &out, "{'tool_calls':[{'index':1,'function':{'arguments':"
	    "'}'}}]}", "'tool_calls'");
	feed_usage(&rs, &out);
	list = finish_stream(&rs, &out, &resp);
	t = types(list);
	ck_assert_str_eq(t, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.done "
	    "content_part.done output_item.done "
	    "output_item.added function_call_arguments.delta "
	    "function_call_arguments.delta function_call_arguments.done "
	    "output_item.done "
	    "output_item.added function_call_arguments.delta "
	    "function_call_arguments.delta function_call_arguments.done "
	    "output_item.done completed");
	free(t);
	want = Q("{'type':'response.output_item.added','output_index':1,"
	    "'item':{'type':'function_call','id':'fc_" HEX "_1','status':"
	    "'in_progress','call_id':'call_a','name':'weather','arguments':''},"
	    "'sequence_number':8}");
	fx_assert_equal(json_array_get(list, 8), want);
	json_decref(want);
	e = json_array_get(list, 11);
	want = Q("{'type':'response.function_call_arguments.done','item_id':"
	    "'fc_" HEX "_1','output_index':1,'arguments':"
	    "'{\\'city\\':\\'Paris\\'}','name':'weather','sequence_number':11}");
	fx_assert_equal(e, want);
	json_decref(want);
	want = Q("[{'type':'message','id':'msg_" HEX "_0','status':"
	    "'completed','role':'assistant','content':[{'type':'output_text',"
	    "'text':'Checking.','annotations':[]}]},"
	    "{'type':'function_call','id':'fc_" HEX "_1','status':'completed',"
	    "'call_id':'call_a','name':'weather','arguments':"
	    "'{\\'city\\':\\'Paris\\'}'},"
	    "{'type':'function_call','id':'fc_" HEX "_2','status':'completed',"
	    "'call_id':'call_b','name':'time','arguments':'{}'}]");
	fx_assert_equal(json_object_get(resp, "output"), want);
	json_decref(want);
	json_decref(resp);
	json_decref(list);
	router_xbuf_free(&out);
	router_responses_stream_free(&rs);
	json_decref(req);
}
END_TEST

START_TEST(stream_length)
{
	struct router_responses_stream	 rs;
	struct router_xbuf		 out = { NULL, 0, 0 };
	json_t				*req, *list, *resp, *want;
	char				*t;

	start(&rs, &req);
	feed(&rs, &out, "{'content':'Once upon'}", NULL);
	feed(&rs, &out, "{}", "'length'");
	list = finish_stream(&rs, &out, &resp);
	t = types(list);
	ck_assert_str_eq(t, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.done "
	    "content_part.done output_item.done incomplete");
	free(t);
	ck_assert_str_eq(json_string_value(json_object_get(resp, "status")),
	    "incomplete");
	want = Q("{'reason':'max_output_tokens'}");
	fx_assert_equal(json_object_get(resp, "incomplete_details"), want);
	json_decref(want);
	json_decref(resp);
	json_decref(list);
	router_xbuf_free(&out);
	router_responses_stream_free(&rs);
	json_decref(req);
}
END_TEST

START_TEST(stream_fail)
{
	struct router_responses_stream	 rs;
	struct router_xbuf		 out = { NULL, 0, 0 };
	json_t				*req, *list, *last, *want;
	char				*t;

	start(&rs, &req);
	feed(&rs, &out, "{'content':'Par'}", NULL);
	ck_assert(router_responses_stream_fail(&rs, NULL,
	    "upstream closed the connection", &out));
	ck_assert(router_responses_stream_fail(&rs, NULL, "again", &out));
	feed(&rs, &out, "{'content':'late'}", NULL);
	list = events(&out);
	t = types(list);
	ck_assert_str_eq(t, "created in_progress output_item.added "
	    "content_part.added output_text.delta output_text.done "
	    "content_part.done output_item.done failed");
	free(t);
	last = json_object_get(json_array_get(list, 8), "response");
	ck_assert_str_eq(json_string_value(json_object_get(last, "status")),
	    "failed");
	want = Q("{'code':'server_error','message':"
	    "'upstream closed the connection'}");
	fx_assert_equal(json_object_get(last, "error"), want);
	json_decref(want);
	check_items(list, json_object_get(last, "output"));
	json_decref(list);
	router_xbuf_free(&out);
	router_responses_stream_free(&rs);

	/* a failure before any chunk still opens the stream first */
	ck_assert(router_responses_stream_init(&rs, RID, "fast", 1, req));
	ck_assert(router_responses_stream_fail(&rs, "rate_limited", "slow",
	    &out));
	list = events(&out);
	t = types(list);
	ck_assert_str_eq(t, "created in_progress failed");
	free(t);
	json_decref(list);
	router_xbuf_free(&out);
	router_responses_stream_free(&rs);
	json_decref(req);
}
END_TEST

START_TEST(make_id)
{
	unsigned char	 rnd[24];
	char		 id[ROUTER_RESPONSES_ID_MAX], small[8];
	size_t		 i;

	for (i = 0; i < sizeof(rnd); i++)
		rnd[i] = (unsigned char)(i * 17);
	router_responses_make_id(NULL, rnd, sizeof(rnd), id, sizeof(id));
	ck_assert_str_eq(id,
	    "resp_00112233445566778899aabbccddeeff1021324354657687");
	router_responses_make_id("resp_", rnd, 2, small, sizeof(small));
	ck_assert_str_eq(small, "resp_00");
}
END_TEST

static Suite *
responses_suite(void)
{
	Suite	*s = suite_create("responses");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, request_string_input);
	tcase_add_test(tc, request_function_loop);
	tcase_add_test(tc, request_images_and_files);
	tcase_add_test(tc, request_json_formats);
	tcase_add_test(tc, request_prior);
	tcase_add_test(tc, request_refused);
	tcase_add_test(tc, refs_for_the_store);
	tcase_add_test(tc, input_items_as_stored);
	tcase_add_test(tc, response_text);
	tcase_add_test(tc, response_reasoning_and_calls);
	tcase_add_test(tc, response_incomplete);
	tcase_add_test(tc, stream_text);
	tcase_add_test(tc, stream_reasoning_then_text);
	tcase_add_test(tc, stream_parallel_calls);
	tcase_add_test(tc, stream_length);
	tcase_add_test(tc, stream_fail);
	tcase_add_test(tc, make_id);
	suite_add_tcase(s, tc);
	return (s);
}

TG_TEST_MAIN(responses_suite)
