#include "test_util.h"
TEST_LIBC_IMPL

static char data_str[] = "RUCCESS\n";  /* .data: initialised and writable */
static int bss_counter;                 /* .bss: zeroed */

int solo5_app_main(const struct solo5_start_info *si)
{
    (void)si;
    if (bss_counter != 0)
        return SOLO5_EXIT_FAILURE;
    bss_counter++;
    data_str[0]++;
    puts(data_str);
    return bss_counter == 1 ? SOLO5_EXIT_SUCCESS : SOLO5_EXIT_FAILURE;
}
