// CLibpq: libpq for the load generator and tests.
#include <libpq-fe.h>
