/* Helpers of the bridge tests: free UDP ports and bridge configurations for two simulated hosts. */
#ifndef TP_TESTS_BRIDGE_UTIL_H
#define TP_TESTS_BRIDGE_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/tp_client_test_util.h"

/* A UDP port that was free a moment ago on 127.0.0.1 (0 when none could be found). */
static inline int tpb_free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
    {
        return 0;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = 0;
    if (0 == bind(fd, (struct sockaddr *)&a, sizeof(a)) && 0 == getsockname(fd, (struct sockaddr *)&a, &len))
    {
        port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
}

/* As tpb_config_text, with `params` (e.g. "|mtu=8192") appended to the three bridge UDP channels. */
static inline void tpb_config_text_params(char *buf, size_t cap, const char *role, const tpc_dirs_t *d,
    const int *ports, const char *extra_bridge, const char *local_channel, const char *params)
{
    snprintf(buf, cap,
        "[bridge]\ninstance_id = \"%s\"\nrole = \"%s\"\n"
        "payload_channel = \"aeron:udp?endpoint=127.0.0.1:%d%s\"\npayload_stream_id = 50000\n"
        "control_channel = \"aeron:udp?endpoint=127.0.0.1:%d%s\"\ncontrol_stream_id = 50001\n"
        "metadata_channel = \"aeron:udp?endpoint=127.0.0.1:%d%s\"\nmetadata_stream_id = 50002\n"
        "announce_forward_ms = 100\n%s\n"
        "[local]\ntransport = \"%s\"\ntransport_dir = \"%s\"\nshm_base_dir = \"%s\"\nannounce_period_ms = 50\n"
        "channel = \"%s\"\n"
        "[[mappings]]\nsource_stream_id = 10000\ndest_stream_id = 20000\n"
        "source_control_stream_id = 1000\ndest_control_stream_id = 1000\n",
        role, role, ports[0], params, ports[1], params, ports[2], params, extra_bridge,
        tpc_is_aeron() ? "aeron" : "embedded", d->transport, d->shm, local_channel);
}

/*
 * A bridge configuration of one side (`role` "sender" or "receiver") whose
 * local host is `d`, with the bridge channels on 127.0.0.1:ports[0..2] and one
 * mapping 10000 -> 20000. `extra_bridge` is appended to [bridge] (may be "").
 */
static inline void tpb_config_text(char *buf, size_t cap, const char *role, const tpc_dirs_t *d, const int *ports,
    const char *extra_bridge, const char *local_channel)
{
    tpb_config_text_params(buf, cap, role, d, ports, extra_bridge, local_channel, "");
}

#endif
