/* ds_cli_kernel.h — the `divsweep kernel` and `divsweep bench kernels` subcommands (DESIGN.md §2).
 *
 * Both take the arguments after the program name: argv[0] is the subcommand word ("kernel", or
 * "bench"); for ds_cli_bench_kernels a following "kernels" word is skipped as well, so the lead's
 * main can pass either argv+1 (…"bench", "kernels", opts) or argv+2 ("kernels", opts).
 * They print results on stdout, one clear error line on stderr, and return the process exit code
 * (0 ok, 1 usage or input error: DS_EXIT_USAGE).  Not thread-safe with each other only in that
 * both write stdout.
 */
#ifndef DS_CLI_KERNEL_H
#define DS_CLI_KERNEL_H

/* divsweep kernel --div NAME [--param k=v]... --teacher T.npy [--teacher T2.npy --weights a,b
 *   [--mix arithmetic|geometric|loss]] --student S.npy [--temperature T] [--t2]
 *   [--reduction batchmean|sum|mean|none] [--grad OUT.npy] [--backend NAME] [--threads N] [--json]
 * --param cost=FILE.npy loads a V×V sinkhorn cost matrix.  --json prints one object:
 * {"div", "params", "temperature", "reduction", "backend", "loss", "rows": [...]} (non-finite
 * numbers as null). */
int ds_cli_kernel(int argc, char **argv);

/* divsweep bench kernels [--div NAME|all] [--rows B] [--vocab V] [--threads N] [--backend NAME]
 *   [--reps N] [--json]
 * Median ms of one fused forward+backward call over random N(0, 9) logits, rows/s and effective
 * GB/s at 12 bytes per element.  Without --div every divergence the backend can run at that
 * shape is measured.  --json: one object per line with div, backend, rows, vocab, threads, ms,
 * gbps, rows_per_s, path ("fast" or "fallback"). */
int ds_cli_bench_kernels(int argc, char **argv);

#endif /* DS_CLI_KERNEL_H */
