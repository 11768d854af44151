/*
 * Secrets from files (docs/operations.md, "Configuration in production").
 *
 * Any secret X (the TOLLGATE_* secrets below and every <PROVIDER>_API_KEY)
 * may be given as X_FILE, the path of a file that holds it, as systemd's
 * LoadCredential= and container secrets provide them. The file's content,
 * less one trailing newline, is the value. Setting both X and X_FILE is
 * an error: which one wins would be a guess.
 *
 * tg_secret_files_scan() finds and reads them at start; the caller puts
 * each value in the environment as X, so every reader of X sees it.
 * tg_secret_files_reread() reads the same files again for a reload,
 * all or nothing. Pure C: the unit tests hand it any environment.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char *secret_names[] = {
	"TOLLGATE_DATABASE_URL", "TOLLGATE_MIGRATE_DATABASE_URL",
	"TOLLGATE_JWT_SECRET", "TOLLGATE_KEY_PEPPER",
	"TOLLGATE_GOOGLE_CLIENT_SECRET", "TOLLGATE_GITHUB_CLIENT_SECRET",
	"TOLLGATE_KAKAO_CLIENT_SECRET", "TOLLGATE_STRIPE_SECRET_KEY",
	"TOLLGATE_STRIPE_WEBHOOK_SECRET", "TOLLGATE_METRICS_TOKEN",
	"TOLLGATE_ADMIN_EMAILS",
	NULL
};

static const char	*secret_env_find(char *const *, const char *, size_t);
static int		 secret_file_add(struct tg_secret_files *, const char *,
			    size_t, const char *, struct tg_config_errors *);

/* Whether X may be given as X_FILE. */
int
tg_config_file_form(const char *name)
{
	const char	*p;
	size_t		 len;
	int		 i;

	for (i = 0; secret_names[i] != NULL; i++) {
		if (!strcmp(secret_names[i], name))
			return (1);
	}

	/* <PROVIDER>_API_KEY: an environment variable name. */
	len = strlen(name);
	if (len <= 8 || strcmp(name + len - 8, "_API_KEY"))
		return (0);
	for (p = name; *p != '\0'; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || *p == '_' ||
		    (p > name && *p >= '0' && *p <= '9')))
			return (0);
	}

	return (1);
}

/*
 * The content of path, for the variable name (named in errors, never the
 * content): a regular file, at most TG_SECRET_FILE_MAX bytes, no NUL, not
 * empty once one trailing "\n" (or "\r\n") is trimmed. NULL on error.
 */
char *
tg_secret_file_read(const char *name, const char *path,
    struct tg_config_errors *errs)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 len;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		tg_config_error(errs, "%s_FILE: cannot open %.128s: %s", name,
		    path, strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > TG_SECRET_FILE_MAX) {
		tg_config_error(errs, "%s_FILE: %.128s is not a regular file "
		    "of at most %d bytes", name, path, TG_SECRET_FILE_MAX);
		close(fd);
		return (NULL);
	}

	if ((buf = malloc(TG_SECRET_FILE_MAX + 1)) == NULL) {
		fprintf(stderr, "tollgate: out of memory\n");
		exit(1);
	}
	len = 0;
	while (len <= TG_SECRET_FILE_MAX) {
		n = read(fd, buf + len, TG_SECRET_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);

	if (n == -1 || len > TG_SECRET_FILE_MAX) {
		tg_config_error(errs, "%s_FILE: cannot read %.128s", name,
		    path);
		free(buf);
		return (NULL);
	}
	if (memchr(buf, '\0', len) != NULL) {
		tg_config_error(errs, "%s_FILE: %.128s holds a NUL byte", name,
		    path);
		free(buf);
		return (NULL);
	}

	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	buf[len] = '\0';
	if (len == 0) {
		tg_config_error(errs, "%s_FILE: %.128s is empty", name, path);
		free(buf);
		return (NULL);
	}

	return (buf);
}

/*
 * Every X_FILE of envp ("NAME=value" strings) whose X may come from a
 * file: read into files. X and X_FILE both set is an error; an empty
 * X_FILE counts as unset, as an empty X does. Returns 1 without errors.
 */
int
tg_secret_files_scan(char *const *envp, struct tg_secret_files *files,
    struct tg_config_errors *errs)
{
	const char	*eq, *base;
	char		 name[sizeof(files->file[0].name)];
	size_t		 len;
	int		 i, before;

	memset(files, 0, sizeof(*files));
	before = errs->count;

	for (i = 0; envp[i] != NULL; i++) {
		if ((eq = strchr(envp[i], '=')) == NULL || eq[1] == '\0')
			continue;
		len = eq - envp[i];
		if (len <= 5 || len - 5 >= sizeof(name) ||
		    strncmp(eq - 5, "_FILE", 5))
			continue;
		memcpy(name, envp[i], len - 5);
		name[len - 5] = '\0';
		if (!tg_config_file_form(name))
			continue;

		base = secret_env_find(envp, name, len - 5);
		if (base != NULL && *base != '\0') {
			tg_config_error(errs, "%s and %s_FILE are both set: "
			    "give one of them", name, name);
			continue;
		}
		(void)secret_file_add(files, name, len - 5, eq + 1, errs);
	}

	return (errs->count == before);
}

/*
 * Reads every file of cur again into next (same names, same paths).
 * Returns 1 when all of them read; next is then complete.
 */
int
tg_secret_files_reread(const struct tg_secret_files *cur,
    struct tg_secret_files *next, struct tg_config_errors *errs)
{
	const struct tg_secret_file	*f;
	int				 i, before;

	memset(next, 0, sizeof(*next));
	before = errs->count;

	for (i = 0; i < cur->count; i++) {
		f = &cur->file[i];
		(void)secret_file_add(next, f->name, strlen(f->name), f->path,
		    errs);
	}

	return (errs->count == before);
}

/* The value file-given for name, or NULL. */
const char *
tg_secret_files_get(const struct tg_secret_files *files, const char *name)
{
	int	i;

	for (i = 0; i < files->count; i++) {
		if (!strcmp(files->file[i].name, name))
			return (files->file[i].value);
	}

	return (NULL);
}

void
tg_secret_files_free(struct tg_secret_files *files)
{
	int	i;

	for (i = 0; i < files->count; i++) {
		free(files->file[i].path);
		if (files->file[i].value != NULL) {
			explicit_bzero(files->file[i].value,
			    strlen(files->file[i].value));
			free(files->file[i].value);
		}
	}
	memset(files, 0, sizeof(*files));
}

static int
secret_file_add(struct tg_secret_files *files, const char *name, size_t len,
    const char *path, struct tg_config_errors *errs)
{
	struct tg_secret_file	*f;
	char			*value;

	if (files->count >= TG_SECRET_FILES_MAX) {
		tg_config_error(errs, "%.*s_FILE: at most %d variables may "
		    "come from files", (int)len, name, TG_SECRET_FILES_MAX);
		return (0);
	}

	f = &files->file[files->count];
	memcpy(f->name, name, len);
	f->name[len] = '\0';
	if ((value = tg_secret_file_read(f->name, path, errs)) == NULL)
		return (0);
	if ((f->path = strdup(path)) == NULL) {
		fprintf(stderr, "tollgate: out of memory\n");
		exit(1);
	}
	f->value = value;
	files->count++;

	return (1);
}

/* The value of the first len bytes of name in envp, or NULL. */
static const char *
secret_env_find(char *const *envp, const char *name, size_t len)
{
	int	i;

	for (i = 0; envp[i] != NULL; i++) {
		if (!strncmp(envp[i], name, len) && envp[i][len] == '=')
			return (envp[i] + len + 1);
	}

	return (NULL);
}
