/* A program built against an installed tensorpool (pkg-config or find_package). */
#include <stdio.h>
#include <string.h>

#include <tensor_pool/tp.h>

int main(void)
{
    printf("tensorpool %s\n", tp_version());
    return 0 == strcmp(tp_version(), "0.1.0") ? 0 : 1;
}
