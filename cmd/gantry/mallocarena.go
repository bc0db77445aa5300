package main

// glibc gives each thread that calls malloc an arena of its own: a 64 MB
// reservation, trimmed, protected and touched. The Go runtime's threads do
// call it (cgo allocates with it when it starts a thread), for a few bytes
// each; a short command started half a dozen arenas and 80 page faults
// for them. One arena serves them all.

/*
#include <malloc.h>

__attribute__((constructor)) static void gantry_one_malloc_arena(void) {
	mallopt(M_ARENA_MAX, 1);
}
*/
import "C"
