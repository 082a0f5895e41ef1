/*
 * Constant-delay line for the WAN bench (used where the kernel has no sch_netem).
 * Packets that an iptables NFQUEUE rule hands to queue QUEUE are held DELAY_US microseconds and
 * then accepted, in arrival order; verdicts go back in batches (one message releases every packet
 * up to an id), so the cost per packet is one netlink message in and a share of one out.
 *
 *   delay-line QUEUE DELAY_US [MAX_QUEUED]
 *
 * Prints "ready" on stdout once bound. On SIGUSR1 it prints "stats queued=N overflow=N late_max_us=N
 * released=N late_over_5ms=N" on stdout and restarts the last three (late = how long after its due
 * time a packet was released, so the bench can tell whether the delay line kept up during a run).
 * On SIGTERM/SIGINT: the totals on stderr, then it exits.
 * Build: gcc -O2 -o delay-line delay-line.c -lnetfilter_queue -lnfnetlink   (Debian: libnetfilter-queue-dev)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define SLOTS (1u << 20)

static uint32_t slot_id[SLOTS];
static uint64_t slot_due[SLOTS];
static uint32_t head, tail;
static uint64_t delay_ns;
static unsigned long long queued, overflow, late_max_ns, released, late_over_5ms;
static volatile sig_atomic_t stopping, report;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  uint32_t id = ntohl(nfq_get_msg_packet_hdr(nfa)->packet_id);
  if (tail - head >= SLOTS) {
    overflow++;
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  slot_id[tail & (SLOTS - 1)] = id;
  slot_due[tail & (SLOTS - 1)] = now_ns() + delay_ns;
  tail++;
  queued++;
  return 0;
}

static void on_signal(int sig) {
  if (sig == SIGUSR1) report = 1;
  else stopping = 1;
}

/* Releases every packet that is due; sets how long to sleep until the next one (at most 10 ms). */
static void release_due(struct nfq_q_handle *qh, struct timespec *sleep_for) {
  uint64_t t = now_ns();
  uint32_t last = 0;
  int any = 0;
  while (head != tail && slot_due[head & (SLOTS - 1)] <= t) {
    uint64_t late = t - slot_due[head & (SLOTS - 1)];
    if (late > late_max_ns) late_max_ns = late;
    if (late > 5000000ull) late_over_5ms++;
    released++;
    last = slot_id[head & (SLOTS - 1)];
    head++;
    any = 1;
  }
  if (any) nfq_set_verdict_batch(qh, last, NF_ACCEPT);
  uint64_t wait_ns = 10000000ull;
  if (head != tail && slot_due[head & (SLOTS - 1)] - t < wait_ns) wait_ns = slot_due[head & (SLOTS - 1)] - t;
  sleep_for->tv_sec = 0;
  sleep_for->tv_nsec = (long)wait_ns;
}

/*
 * A delay line that is not scheduled in time adds delay the flows see as jitter. Real-time priority
 * keeps it on time on a busy machine; it sleeps in ppoll between packets, so it never spins.
 */
static void prefer_realtime(void) {
  struct sched_param param = {.sched_priority = 20};
  if (sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
    perror("sched_setscheduler (continuing at normal priority)");
    if (setpriority(PRIO_PROCESS, 0, -10) != 0) perror("setpriority");
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s QUEUE DELAY_US [MAX_QUEUED]\n", argv[0]);
    return 2;
  }
  uint16_t queue = (uint16_t)atoi(argv[1]);
  delay_ns = (uint64_t)atoll(argv[2]) * 1000ull;
  uint32_t max_queued = argc > 3 ? (uint32_t)atoi(argv[3]) : 400000;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGUSR1, on_signal);

  struct nfq_handle *h = nfq_open();
  if (!h) { perror("nfq_open"); return 1; }
  nfq_unbind_pf(h, AF_INET);
  if (nfq_bind_pf(h, AF_INET) < 0) { perror("nfq_bind_pf"); return 1; }
  struct nfq_q_handle *qh = nfq_create_queue(h, queue, &on_packet, NULL);
  if (!qh) { perror("nfq_create_queue"); return 1; }
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) { perror("nfq_set_mode"); return 1; }
  nfq_set_queue_maxlen(qh, max_queued);
  nfnl_rcvbufsiz(nfq_nfnlh(h), 64u << 20);
  int fd = nfq_fd(h);
  static char buf[1 << 16];
  printf("ready\n");
  fflush(stdout);

  prefer_realtime();
  struct timespec sleep_for;
  release_due(qh, &sleep_for);
  while (!stopping) {
    struct pollfd p = {fd, POLLIN, 0};
    if (ppoll(&p, 1, &sleep_for, NULL) > 0) {
      for (int i = 0; i < 512; i++) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) {
          if (n < 0 && errno == ENOBUFS) overflow++;
          break;
        }
        nfq_handle_packet(h, buf, (int)n);
      }
    }
    release_due(qh, &sleep_for);
    if (report) {
      report = 0;
      printf("stats queued=%llu overflow=%llu late_max_us=%llu released=%llu late_over_5ms=%llu\n", queued, overflow,
             late_max_ns / 1000ull, released, late_over_5ms);
      fflush(stdout);
      late_max_ns = released = late_over_5ms = 0;
    }
  }
  fprintf(stderr, "queued=%llu overflow=%llu late_max_us=%llu\n", queued, overflow, late_max_ns / 1000ull);
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
