#include "test_util.h"
TEST_LIBC_IMPL

int solo5_app_main(const struct solo5_start_info *si)
{
    puts("\n**** ringtender test_hello ****\n\n");
    puts("Hello, World\nCommand line is: '");
    puts(si->cmdline);
    puts("'\n");
    if (!t_streq(si->cmdline, "Hello_Solo5")) {
        puts("FAILURE: unexpected command line\n");
        return SOLO5_EXIT_FAILURE;
    }
    puts("SUCCESS\n");
    return SOLO5_EXIT_SUCCESS;
}
