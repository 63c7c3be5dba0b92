// SPDX-License-Identifier: MIT
/*
 * The version: the header's macros, the library's run-time answer and the
 * Makefile's VERSION say the same thing.
 *
 *  - PCPU_VERSION is PCPU_VERSION_NUMBER(MAJOR, MINOR, PATCH) and orders
 *    as versions do; PCPU_VERSION_AT_LEAST agrees;
 *  - pcpu_version() and pcpu_version_string() (the library) match the
 *    macros (the headers this test was built with);
 *  - when the tree is at hand (run from its top, as make check does): the
 *    Makefile's VERSION and the built percpu.pc's Version: agree too.
 *    src/version.c already refuses to build when the header and the
 *    Makefile disagree; this checks what a user can observe.
 */
#include "harness.h"

/* "VERSION := x.y.z" in the Makefile (32 bytes at out), or "" when the
 * Makefile is not there. */
static void makefile_version(char *out)
{
	char line[256];
	FILE *f = fopen("Makefile", "re");

	out[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VERSION := %31s", out) == 1)
			break;
	fclose(f);
}

/* "Version: x.y.z" of the percpu.pc next to this test's build tree. */
static void pc_version(char *out)
{
	char path[4096], line[256], *slash;
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	FILE *f;

	out[0] = 0;
	if (n <= 0)
		return;
	path[n] = 0;
	/* .../B/tests/test_version -> .../B/percpu.pc */
	for (int i = 0; i < 2 && (slash = strrchr(path, '/')); i++)
		*slash = 0;
	strcat(path, "/percpu.pc");
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Version: %31s", out) == 1)
			break;
	fclose(f);
}

int main(void)
{
	char want[64], mk[32], pc[32];

	t_init(NULL);
	snprintf(want, sizeof(want), "%d.%d.%d", PCPU_VERSION_MAJOR,
		 PCPU_VERSION_MINOR, PCPU_VERSION_PATCH);
	printf("headers %s (%d), library %s (%d)\n", PCPU_VERSION_STRING,
	       PCPU_VERSION, pcpu_version_string(), pcpu_version());
	CHECK(!strcmp(PCPU_VERSION_STRING, want), "PCPU_VERSION_STRING %s, "
	      "parts say %s", PCPU_VERSION_STRING, want);
	CHECK(PCPU_VERSION == PCPU_VERSION_MAJOR * 10000 +
	      PCPU_VERSION_MINOR * 100 + PCPU_VERSION_PATCH, "PCPU_VERSION %d",
	      PCPU_VERSION);
	CHECK(pcpu_version() == PCPU_VERSION, "pcpu_version() %d, header %d",
	      pcpu_version(), PCPU_VERSION);
	CHECK(!strcmp(pcpu_version_string(), PCPU_VERSION_STRING),
	      "pcpu_version_string() %s", pcpu_version_string());
	CHECK(PCPU_VERSION_AT_LEAST(PCPU_VERSION_MAJOR, PCPU_VERSION_MINOR,
				    PCPU_VERSION_PATCH), "AT_LEAST(itself)");
	CHECK(PCPU_VERSION_AT_LEAST(0, 0, 1), "AT_LEAST(0.0.1)");
	CHECK(!PCPU_VERSION_AT_LEAST(PCPU_VERSION_MAJOR, PCPU_VERSION_MINOR,
				     PCPU_VERSION_PATCH + 1), "AT_LEAST(next patch)");
	CHECK(!PCPU_VERSION_AT_LEAST(PCPU_VERSION_MAJOR + 1, 0, 0),
	      "AT_LEAST(next major)");
	CHECK(PCPU_VERSION_NUMBER(0, 2, 0) > PCPU_VERSION_NUMBER(0, 1, 99) &&
	      PCPU_VERSION_NUMBER(1, 0, 0) > PCPU_VERSION_NUMBER(0, 99, 99),
	      "numbers do not order as versions");

	makefile_version(mk);
	if (mk[0]) {
		printf("Makefile VERSION %s\n", mk);
		CHECK(!strcmp(mk, pcpu_version_string()), "Makefile says %s, "
		      "the library %s", mk, pcpu_version_string());
	} else {
		printf("Makefile: not here (run from the tree's top to check)\n");
	}
	pc_version(pc);
	if (pc[0]) {
		printf("percpu.pc Version %s\n", pc);
		CHECK(!strcmp(pc, pcpu_version_string()), "percpu.pc says %s",
		      pc);
	}
	return t_done();
}
