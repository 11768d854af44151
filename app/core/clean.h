/*
 * Text from outside (a provider's error and its description, a peer's
 * message) made fit for a log line or a client's answer. Pure C.
 *
 * tg_clean_text() copies at most inlen bytes of in to out as valid UTF-8
 * without control characters, cut at a character boundary to fit
 * outlen (NUL included); out is always terminated. Each byte of an
 * invalid UTF-8 sequence (stray continuation bytes, overlong forms,
 * surrogates, code points past U+10FFFF, a sequence cut short) becomes
 * '?'; tab, CR and LF become a space; every other control character
 * (C0, DEL, C1, U+2028/U+2029, the bidirectional overrides and
 * isolates) becomes '?'. The output is never longer than the input.
 * A NUL byte in the first inlen bytes ends the input; out may be in
 * (cleaning in place). Returns strlen(out).
 *
 * tg_clean_utf8() repairs s[0..len) in place: each byte of an invalid
 * UTF-8 sequence becomes '?', everything else (control characters
 * included) is kept, so a JSON document whose strings hold stray bytes
 * can still be parsed. Returns the number of bytes replaced.
 */

#ifndef TG_CLEAN_H
#define TG_CLEAN_H

#include <stddef.h>

size_t	tg_clean_text(char *, size_t, const char *, size_t);
size_t	tg_clean_utf8(char *, size_t);

#endif
