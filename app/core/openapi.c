/*
 * GET /openapi.json: docs/openapi.yaml as JSON, converted and embedded
 * by make (scripts/embed-openapi.py), so the binary serves the document
 * of the routes it was built with and nothing is read at run time.
 */

#include "tollgate.h"

extern const unsigned char	tg_openapi_json[];
extern const size_t		tg_openapi_json_len;

int
tg_openapi(struct http_request *req)
{
	http_response_header(req, "content-type", "application/json");
	http_response_header(req, "cache-control", "public, max-age=300");
	http_response(req, 200, tg_openapi_json, tg_openapi_json_len);

	return (KORE_RESULT_OK);
}
