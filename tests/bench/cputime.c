/* cputime.c — load-independent kernel timing for a shared machine: thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID) of ds_kern_fwd_bwd on the "cpu" backend, N(0,9) logits, T = 1, min /
 * p25 / median of 200 calls.  Use 1 thread (the calling thread does the work, so preemption by
 * other jobs is not counted).  Not part of the build:
 *   gcc -O2 -I kernels -I schema tests/bench/cputime.c build/kernels/libds_kernels.a -lm -lpthread -o /tmp/cputime
 *   /tmp/cputime B V THREADS div... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include "ds_kernels.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  size_t B=atoi(argv[1]),V=atoi(argv[2]); int th=atoi(argv[3]); int reps=200;
  size_t n=B*V; float*t=aligned_alloc(64,n*4),*s=aligned_alloc(64,n*4),*g=aligned_alloc(64,n*4);
  srand(1); for(size_t i=0;i<n;i++){double u1=(rand()+1.0)/(RAND_MAX+2.0),u2=(rand()+1.0)/(RAND_MAX+2.0);t[i]=3*sqrt(-2*log(u1))*cos(6.2831853*u2);u1=(rand()+1.0)/(RAND_MAX+2.0);s[i]=3*sqrt(-2*log(u1))*sin(6.2831853*u2);}
  const ds_backend_t*be=ds_kern_backend_get("cpu");
  for(int k=4;k<argc;k++){ ds_div_t d; ds_div_from_name(argv[k],&d);
    const float*tp[1]={t}; ds_kern_args_t a={&d,B,V,1,tp,NULL,DS_MIX_ARITHMETIC,s,1.0,1.0,0,DS_RED_BATCHMEAN,NULL,th};
    ds_kern_out_t o={0,NULL,g}; double ts[200]; ds_kern_fwd_bwd(be,&a,&o);
    for(int r=0;r<reps;r++){double t0=now();ds_kern_fwd_bwd(be,&a,&o);ts[r]=now()-t0;}
    qsort(ts,reps,sizeof*ts,cmp);
    printf("%-9s B=%zu V=%zu th=%d min %.3f ms  p25 %.3f  med %.3f  loss %.6f\n",argv[k],B,V,th,ts[0]*1e3,ts[reps/4]*1e3,ts[reps/2]*1e3,o.loss);}
}
