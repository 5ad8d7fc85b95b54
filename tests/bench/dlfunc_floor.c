/*
 * dlfunc_floor.c - a ${dlfunc} object that does nothing and imports
 * nothing (linked with -nostdlib): make bench's "floor" arm calls it in
 * the dnslookup router of Debian's default configuration, to measure what
 * any ${dlfunc} costs stock exim4 per delivery process (Exim dlopens the
 * object at its first use in each process), beside what the snippets cost.
 */
int floor_empty(unsigned char **yield, int argc, unsigned char *argv[]);

int floor_empty(unsigned char **yield, int argc, unsigned char *argv[])
{
    static unsigned char empty[1];
    (void)argc;
    (void)argv;
    *yield = empty;
    return 0;   /* Exim's OK */
}
