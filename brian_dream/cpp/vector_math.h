// vector_math.h: lets gcc vectorise the state updaters' loops that call exp().
//
// Every cpp code object includes "vector_math.h"; brian_dream/devices/standalone.py writes
// this file into the project when simulation.vector_math is on (the default), an empty
// header when it is off. glibc declares the SIMD variants of exp (libmvec: _ZGVeN8v_exp,
// _ZGVdN4v_exp, ...) only when __FAST_MATH__ is defined, and Brian2's -ffast-math
// -fno-finite-math-only leaves it undefined; this declaration adds the attribute glibc
// would have added (the program then links libmvec, which libm.so pulls in as needed).
// Together with the --param vect-max-version-for-alias-checks the makefile gets, gcc
// vectorises the DPI state updater (one exp per neuron and step). libmvec's exp is within
// 4 ulp, glibc's scalar exp within 1: the state differs from the scalar build's in the
// last bits (a loop's remainder of fewer than a vector's neurons still uses the scalar
// or a narrower vector exp). Spike counts stayed equal (tests/test_standalone.py).
#pragma once
#include <math.h>
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__FAST_MATH__) \
    && !defined(__CUDACC__) && defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 22)
extern "C" double exp(double) noexcept __attribute__((__simd__("notinbranch")));
#endif
#endif
