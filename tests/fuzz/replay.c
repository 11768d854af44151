/*
 * Replays a fuzz harness over its seed corpus, so `make test` exercises
 * every parser harness deterministically (under ASan/UBSan with
 * SANITIZE=1). Long mutation runs link the same harness with libFuzzer
 * instead: make fuzz (docs/fuzzing.md).
 *
 *	replay <file-or-directory>...
 */

#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	replay_file(const char *);

static int
replay_file(const char *path)
{
	FILE		*fp;
	uint8_t		*buf;
	long		 len;

	if ((fp = fopen(path, "rb")) == NULL)
		return (-1);
	if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0) {
		fclose(fp);
		return (-1);
	}
	rewind(fp);
	/* An exact-size copy, so overreads hit the sanitizer's redzone. */
	if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
		fclose(fp);
		return (-1);
	}
	if (len > 0 && fread(buf, 1, len, fp) != (size_t)len) {
		free(buf);
		fclose(fp);
		return (-1);
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return (0);
}

int
main(int argc, char **argv)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir;
	char		 path[4096];
	int		 i, n;

	n = 0;
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: %s: not found\n", argv[i]);
			return (1);
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay_file(argv[i]) == -1)
				return (1);
			n++;
			continue;
		}
		if ((dir = opendir(argv[i])) == NULL)
			return (1);
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
			    de->d_name);
			if (replay_file(path) == -1) {
				closedir(dir);
				return (1);
			}
			n++;
		}
		closedir(dir);
	}

	printf("replayed %d inputs\n", n);
	return (0);
}
