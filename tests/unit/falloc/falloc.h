/*
 * falloc.h - the allocation-failure seam of the unit tests: a test binary
 * that links falloc.c replaces malloc and its family, can make its Nth
 * allocation fail and counts the blocks still live, so that every
 * out-of-memory path of the code it calls can be run and checked for
 * crashes and leaks.
 */
#ifndef JC_TEST_FALLOC_H
#define JC_TEST_FALLOC_H

/* falloc_arm starts counting allocations; the nth one (1-based) made
 * after this call returns NULL, the others succeed (0: none fails). */
void falloc_arm(long nth);

/* falloc_disarm stops counting and failing; returns how many allocations
 * were asked for since falloc_arm. */
long falloc_disarm(void);

/* falloc_fired says whether the armed failure happened. */
int falloc_fired(void);

/* falloc_spare makes the allocations asked for by the shared library
 * whose file name contains lib (anywhere in the calling stack) never fail
 * and not count; NULL spares none. For a library known not to survive a
 * failed allocation of its own. */
void falloc_spare(const char *lib);

/* falloc_spared is the number of allocations spared since falloc_arm. */
long falloc_spared(void);

/* falloc_live is the number of blocks allocated and not yet freed. */
long falloc_live(void);

#endif
