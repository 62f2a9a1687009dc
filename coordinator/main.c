/* main.c — the divsweep executable (placeholder until the spine lands). */
#include <stdio.h>
int main(void) { puts("divsweep"); return 0; }
