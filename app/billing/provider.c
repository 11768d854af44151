/*
 * Provider-neutral helpers of billing (see provider.h). Pure C.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "provider.h"
#include "redact.h"

const char *
billing_verify_strerror(int code)
{
	switch (code) {
	case BILLING_VERIFY_OK:
		return ("valid");
	case BILLING_VERIFY_MISSING:
		return ("the signature header is missing");
	case BILLING_VERIFY_MALFORMED:
		return ("the signature header is malformed");
	case BILLING_VERIFY_STALE:
		return ("the signature timestamp is outside the tolerance");
	case BILLING_VERIFY_MISMATCH:
		return ("no signature matches");
	default:
		return ("invalid signature");
	}
}

void
billing_redact(char *s)
{
	int	i;

	tg_redact_secret(s, tg_conf.stripe_secret_key);
	for (i = 0; i < tg_conf.stripe_webhook_secrets_count; i++)
		tg_redact_secret(s, tg_conf.stripe_webhook_secrets[i]);
	tg_redact_tokens(s);
	tg_text_clean(s);
}

void
billing_http_free(struct billing_http *h)
{
	int	i;

	free(h->url);
	free(h->body);
	for (i = 0; i < h->nheaders; i++)
		free(h->headers[i]);
	memset(h, 0, sizeof(*h));
}

/*
 * Where the provider sends the customer back: <ui>/billing/<which>
 * ?payment_id=<id> on TOLLGATE_UI_URL (one trailing slash dropped).
 * Returns 0 when it does not fit.
 */
int
billing_return_url(char *out, size_t len, const char *ui_url,
    const char *which, const char *payment_id)
{
	size_t	n;
	int	r;

	n = strlen(ui_url);
	if (n > 0 && ui_url[n - 1] == '/')
		n--;

	r = snprintf(out, len, "%.*s/billing/%s?payment_id=%s", (int)n, ui_url,
	    which, payment_id);

	return (r >= 0 && (size_t)r < len);
}

/*
 * A three-letter ISO 4217 code, kept in lower case as Stripe writes it.
 * Returns 0, leaving out alone, when v is not one.
 */
int
billing_currency(char out[4], const json_t *v)
{
	const char	*s;
	int		 i;

	s = json_string_value(v);
	if (s == NULL || json_string_length(v) != 3)
		return (0);
	for (i = 0; i < 3; i++) {
		if (!isalpha((unsigned char)s[i]))
			return (0);
	}
	for (i = 0; i < 3; i++)
		out[i] = tolower((unsigned char)s[i]);
	out[3] = '\0';

	return (1);
}
