/*
 * tickwire-sys C shim: out-of-line wrappers for DPDK's static-inline
 * hot-path functions and macros, so Rust can call them.
 *
 * Every function here is a thin, non-inline forwarder with the same
 * contract as the DPDK function it wraps (see the DPDK 22.11 docs).
 */
#ifndef TICKWIRE_SHIM_H
#define TICKWIRE_SHIM_H

#include <stdint.h>

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

/* rte_ethdev.h */
uint16_t tw_eth_rx_burst(uint16_t port_id, uint16_t queue_id,
                         struct rte_mbuf **rx_pkts, uint16_t nb_pkts);
uint16_t tw_eth_tx_burst(uint16_t port_id, uint16_t queue_id,
                         struct rte_mbuf **tx_pkts, uint16_t nb_pkts);

/* rte_mbuf.h */
struct rte_mbuf *tw_pktmbuf_alloc(struct rte_mempool *mp);
int tw_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **mbufs,
                          unsigned int count);
void tw_pktmbuf_free(struct rte_mbuf *m);
/* rte_pktmbuf_free_bulk is a real exported function in 22.11; this just
 * forwards to it so the Rust side has one naming scheme. */
void tw_pktmbuf_free_bulk(struct rte_mbuf **mbufs, unsigned int count);
char *tw_pktmbuf_append(struct rte_mbuf *m, uint16_t len);
char *tw_pktmbuf_prepend(struct rte_mbuf *m, uint16_t len);
int tw_pktmbuf_trim(struct rte_mbuf *m, uint16_t len);
void tw_pktmbuf_reset(struct rte_mbuf *m);
void *tw_pktmbuf_mtod(const struct rte_mbuf *m);
uint16_t tw_pktmbuf_data_len(const struct rte_mbuf *m);
uint32_t tw_pktmbuf_pkt_len(const struct rte_mbuf *m);
uint16_t tw_pktmbuf_headroom(const struct rte_mbuf *m);
uint16_t tw_pktmbuf_tailroom(const struct rte_mbuf *m);

/* rte_ring.h: burst enqueue/dequeue of object pointers; producer/consumer
 * sync (SP/MP, SC/MC) follows the flags the ring was created with. */
unsigned int tw_ring_enqueue_burst(struct rte_ring *r, void *const *obj_table,
                                   unsigned int n);
unsigned int tw_ring_dequeue_burst(struct rte_ring *r, void **obj_table,
                                   unsigned int n);
unsigned int tw_ring_count(const struct rte_ring *r);
unsigned int tw_ring_capacity(const struct rte_ring *r);

/* rte_lcore.h / rte_cycles.h / rte_errno.h / rte_prefetch.h */
unsigned int tw_lcore_id(void);
unsigned int tw_socket_id(void);
uint64_t tw_rdtsc(void);
uint64_t tw_get_tsc_hz(void);
int tw_errno(void);
void tw_set_errno(int value);
void tw_prefetch0(const volatile void *p);

#endif /* TICKWIRE_SHIM_H */
