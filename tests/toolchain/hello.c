/* The unikernel tests/toolchain/Makefile builds: prints a line and exits 0. */
#include <solo5.h>

#define MESSAGE "toolchain: hello from a make-built unikernel\n"

int solo5_app_main(const struct solo5_start_info *info __attribute__((unused)))
{
    solo5_console_write(MESSAGE, sizeof(MESSAGE) - 1);
    return SOLO5_EXIT_SUCCESS;
}
