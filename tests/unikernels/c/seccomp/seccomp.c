#include "test_util.h"
TEST_LIBC_IMPL

/*
 * Makes a system call no tender allows, dup(1) as upstream's test does:
 * solo5-spt's filter kills the process with SIGSYS; on hvt the syscall
 * instruction traps. Printing FAILURE means it came back.
 */
int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    long ret;
    puts("Calling dup(1)\n");
    __asm__ __volatile__("syscall" : "=a"(ret) : "a"(32L), "D"(1L) : "rcx", "r11", "memory");
    puts("FAILURE: dup(1) returned\n");
    return 1;
}
