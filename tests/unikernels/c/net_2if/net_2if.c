/* test_net with two interfaces: service0 at 10.0.0.2, service1 at 10.1.0.2. */
#define TWO_INTERFACES
#include "../net/net.c"
