#include "blgreet.h"
#include <stdio.h>
#include <string.h>

/* BLGREET_PREFIX is the long placeholder the package is built with; the installer
 * overwrites it in place with the environment's prefix, padded with NUL bytes. */
static const char prefix[] = BLGREET_PREFIX;

const char *blgreet_prefix(void) { return prefix; }

const char *blgreet_message(void) {
    static char line[256];
    char path[sizeof prefix + 64];
    snprintf(path, sizeof path, "%s/share/blgreet/message.txt", prefix);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    if (!fgets(line, sizeof line, f)) { fclose(f); return NULL; }
    fclose(f);
    line[strcspn(line, "\n")] = '\0';
    return line;
}
