/*
 * lmdb_lazy.h - what the Exim adapters may ask of lmdb_lazy.c beyond the
 * LMDB calls it stands in for.
 */
#ifndef MTASTS_LMDB_LAZY_H
#define MTASTS_LMDB_LAZY_H

/* mtasts_lmdb_preload - load liblmdb now rather than at the first store
 * call (nothing if it is loaded or failed to load). */
void mtasts_lmdb_preload(void);

#endif
