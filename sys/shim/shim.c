/* See shim.h. Built by sys/build.rs with the flags from
 * `pkg-config --cflags libdpdk` (which include `-include rte_config.h`
 * and `-march=corei7`). */
#include <rte_config.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "shim.h"

uint16_t tw_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                         struct rte_mbuf **rx_pkts, uint16_t nb_pkts)
{
    return rte_eth_rx_burst(port_id, queue_id, rx_pkts, nb_pkts);
}

uint16_t tw_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
                         struct rte_mbuf **tx_pkts, uint16_t nb_pkts)
{
    return rte_eth_tx_burst(port_id, queue_id, tx_pkts, nb_pkts);
}

struct rte_mbuf *tw_pktmbuf_alloc(struct rte_mempool *mp)
{
    return rte_pktmbuf_alloc(mp);
}

int tw_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
                          unsigned int count)
{
    return rte_pktmbuf_alloc_bulk(mp, mbufs, count);
}

void tw_pktmbuf_free(struct rte_mbuf *m)
{
    rte_pktmbuf_free(m);
}

void tw_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count)
{
    rte_pktmbuf_free_bulk(mbufs, count);
}

char *tw_pktmbuf_append(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_append(m, len);
}

char *tw_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_prepend(m, len);
}

int tw_pktmbuf_trim(struct rte_mbuf *m, uint16_t len)
{
    return rte_pktmbuf_trim(m, len);
}

void tw_pktmbuf_reset(struct rte_mbuf *m)
{
    rte_pktmbuf_reset(m);
}

void *tw_pktmbuf_mtod(const struct rte_mbuf *m)
{
    return rte_pktmbuf_mtod(m, void *);
}

uint16_t tw_pktmbuf_data_len(const struct rte_mbuf *m)
{
    return rte_pktmbuf_data_len(m);
}

uint32_t tw_pktmbuf_pkt_len(const struct rte_mbuf *m)
{
    return rte_pktmbuf_pkt_len(m);
}

uint16_t tw_pktmbuf_headroom(const struct rte_mbuf *m)
{
    return rte_pktmbuf_headroom(m);
}

uint16_t tw_pktmbuf_tailroom(const struct rte_mbuf *m)
{
    return rte_pktmbuf_tailroom(m);
}

unsigned int tw_lcore_id(void)
{
    return rte_lcore_id();
}

unsigned int tw_socket_id(void)
{
    return rte_socket_id();
}

uint64_t tw_rdtsc(void)
{
    return rte_rdtsc();
}

uint64_t tw_get_tsc_hz(void)
{
    return rte_get_tsc_hz();
}

int tw_errno(void)
{
    return rte_errno;
}

void tw_set_errno(int value)
{
    rte_errno = value;
}

void tw_prefetch0(const volatile void *p)
{
    rte_prefetch0(p);
}

unsigned int tw_ring_enqueue_burst(struct rte_ring *r, void *const *obj_table,
                                   unsigned int n)
{
    return rte_ring_enqueue_burst(r, obj_table, n, NULL);
}

unsigned int tw_ring_dequeue_burst(struct rte_ring *r, void **obj_table,
                                   unsigned int n)
{
    return rte_ring_dequeue_burst(r, obj_table, n, NULL);
}

unsigned int tw_ring_count(const struct rte_ring *r)
{
    return rte_ring_count(r);
}

unsigned int tw_ring_capacity(const struct rte_ring *r)
{
    return rte_ring_get_capacity(r);
}
