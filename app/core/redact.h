/*
 * Cleaning untrusted text (an upstream's error message, a peer's
 * answer) before any client or log line sees it: secrets out, control
 * characters and broken UTF-8 out. Pure C, in place, never longer.
 */

#ifndef TG_REDACT_H
#define TG_REDACT_H

/* Every occurrence of secret (4 bytes or more) in s becomes "***". */
void	tg_redact_secret(char *, const char *);

/*
 * Every token shaped like a payment provider's secret becomes "***":
 * sk_live_, sk_test_, rk_live_, rk_test_ and whsec_ followed by letters,
 * digits or '_', wherever they start (a key glued to a word is still a
 * key; redacting a rare innocent word is the cheaper mistake). Catches a
 * key we do not hold (an old one, another account's) that an upstream
 * echoes back.
 */
void	tg_redact_tokens(char *);

/* tg_clean_text() (clean.h) of the string s, in place. */
void	tg_text_clean(char *);

#endif
