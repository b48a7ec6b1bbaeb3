/* libblgreet: the bench conda channel's native library. Its install prefix is compiled in
 * (a binary prefix placeholder that conda installers rewrite). */
#ifndef BLGREET_H
#define BLGREET_H
/* The prefix the library was installed into (after the installer's rewrite). */
const char *blgreet_prefix(void);
/* The first line of PREFIX/share/blgreet/message.txt, or NULL (errno set) when it cannot be read. */
const char *blgreet_message(void);
#endif
