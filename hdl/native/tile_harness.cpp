// Native harness of a GEMM tile (hdl.tile.GemmTile) around its Verilator C++ model.
//
// The Python side (hdl/native.py) exports the tile's Verilog, writes tile_config.h from the unit's descriptor
// (array shape, field offsets and widths of every stream payload) and builds this file with Verilator once per
// tile configuration. One run reads GEMM problems from stdin, cuts each into the tile's jobs and beats itself
// (golden.tile.job_beats: job (i, j) row-major, beat t carries elements t*L .. t*L + L - 1 of K), drives the
// a / w streams and the y stream's ready with the asked probabilities, and writes every problem's result
// matrix and cycle counts to stdout. Everything little-endian.
//
// stdin:  "QRTI" u32 version, u32 problems, u32 p_valid (of 65536), u32 p_ready (of 65536), u64 seed,
//         then per problem: u32 M, N, K, g; int8 A codes (M*K); uint8 A flags (M*K/g); int8 W codes (N*K);
//         uint8 W flags (N*K/g). M, N, K must be multiples of R, C and lcm(L, g) (Python pads). An INT tile
//         (hdl.tile.IntGemmTile: two's complement codes, no flags) is built with FLAGS 0 and takes g = 0.
// stdout: per problem: "QRTY" u32 M, N; int64 Y (M*N, the acc_width-bit results sign-extended);
//         u64 cycles, beats (a beats taken), stalls (cycles a beat was waiting and not taken), out_beats,
//         protocol (y payload or valid changed while waiting for ready, or a wrong last), cpu_ns (this process's
//         CPU time for the problem: reading, cutting and packing beats, simulating, unpacking and writing).
// `harness --info` prints the configuration it was built for (checked by the Python side before use).
// Errors: one line on stderr naming the value and what was expected, exit status 2.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

#include "Vtile.h"
#include "verilated.h"
#include "tile_config.h"

namespace {

constexpr int A_WORDS = (A_WIDTH + 31) / 32 + 2;
constexpr int W_WORDS = (W_WIDTH + 31) / 32 + 2;
constexpr int Y_WORDS = (Y_WIDTH + 31) / 32 + 2;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "tile harness: %s\n", what);
    std::exit(2);
}

template <std::size_t N> void put(VlWide<N>& port, const uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) port[i] = w[i];
}
template <typename T> void put(T& port, const uint32_t* w) {
    port = static_cast<T>(static_cast<uint64_t>(w[0]) | (static_cast<uint64_t>(w[1]) << 32));
}
template <std::size_t N> void get(const VlWide<N>& port, uint32_t* w) {
    for (std::size_t i = 0; i < N; ++i) w[i] = port[i];
}
template <typename T> void get(const T& port, uint32_t* w) {
    uint64_t v = static_cast<uint64_t>(port);
    w[0] = static_cast<uint32_t>(v);
    w[1] = static_cast<uint32_t>(v >> 32);
}

inline void put_bits(uint32_t* buf, int pos, int width, uint32_t value) {
    uint64_t v = static_cast<uint64_t>(value & ((1u << width) - 1u)) << (pos & 31);
    buf[pos >> 5] |= static_cast<uint32_t>(v);
    buf[(pos >> 5) + 1] |= static_cast<uint32_t>(v >> 32);
}

inline uint64_t get_bits(const uint32_t* buf, int pos, int width) {
    // up to 64 bits starting at any position
    uint64_t out = 0;
    for (int b = 0; b < width; b += 32) {
        int p = pos + b, n = width - b < 32 ? width - b : 32;
        uint64_t v = static_cast<uint64_t>(buf[p >> 5]) | (static_cast<uint64_t>(buf[(p >> 5) + 1]) << 32);
        v = (v >> (p & 31)) & ((n == 64 ? ~0ull : ((1ull << n) - 1)));
        out |= v << b;
    }
    return out;
}

// A code as its payload bits: sign-magnitude (QRazor tiles) or two's complement (INT tiles).
inline uint32_t code_word(int8_t c, int bits) {
#if SIGNMAG
    return c < 0 ? (1u << (bits - 1)) | static_cast<uint32_t>(-c) : static_cast<uint32_t>(c);
#else
    (void)bits;
    return static_cast<uint32_t>(static_cast<int32_t>(c));
#endif
}

struct Rng {                       // splitmix64: reproducible valid / ready gaps
    uint64_t s;
    uint32_t next16() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return static_cast<uint32_t>((z ^ (z >> 31)) & 0xFFFF);
    }
    bool chance(uint32_t p) { return p >= 65536 || next16() < p; }
};

template <typename T> T read_one(FILE* f, const char* what) {
    T v;
    if (std::fread(&v, sizeof v, 1, f) != 1) fail(what);
    return v;
}

void read_bytes(FILE* f, void* dst, std::size_t n, const char* what) {
    if (n && std::fread(dst, 1, n, f) != n) fail(what);
}

struct Problem {
    uint32_t m, n, k, g;
    std::vector<int8_t> ac, wc;
    std::vector<uint8_t> af, wf;
};

struct Counts {
    uint64_t cycles = 0, beats = 0, stalls = 0, out_beats = 0, protocol = 0;
};

class Tile {
  public:
    explicit Tile(VerilatedContext* ctx) : top_(new Vtile{ctx}) {
        top_->clk = 0;
        top_->rst = 1;
        top_->a_valid = 0;
        top_->w_valid = 0;
        top_->y_ready = 0;
        for (int i = 0; i < 2; ++i) tick();
        top_->rst = 0;
    }
    ~Tile() {
        top_->final();
        delete top_;
    }

    void tick() {
        top_->clk = 0;
        top_->eval();
        top_->clk = 1;
        top_->eval();
    }

    // One problem: every job row-major; returns the results in y (M*N) and adds to the counts.
    void run(const Problem& p, Rng& rng, uint32_t p_valid, uint32_t p_ready, std::vector<int64_t>& y, Counts& n) {
        const uint32_t rb = p.m / ROWS, cb = p.n / COLS, steps = p.k / LANES, jobs = rb * cb;
        const uint64_t beats = static_cast<uint64_t>(jobs) * steps, rows_out = static_cast<uint64_t>(jobs) * ROWS;
        const uint32_t groups = p.g ? p.k / p.g : 0, per_sub = SUB ? LANES / SUB : 0;
        y.assign(static_cast<std::size_t>(p.m) * p.n, 0);
        uint64_t next_a = 0, next_w = 0, got = 0, quiet = 0;
        bool a_on = false, w_on = false, held = false;
        uint32_t abuf[A_WORDS], wbuf[W_WORDS], ybuf[Y_WORDS], yheld[Y_WORDS];
        while (got < rows_out) {
            if (!a_on && next_a < beats && rng.chance(p_valid)) {
                pack_a(p, next_a, steps, cb, groups, per_sub, abuf);
                put(top_->a_payload, abuf);
                a_on = true;
            }
            if (!w_on && next_w < beats && rng.chance(p_valid)) {
                pack_w(p, next_w, steps, cb, groups, per_sub, wbuf);
                put(top_->w_payload, wbuf);
                w_on = true;
            }
            top_->a_valid = a_on;
            top_->w_valid = w_on;
            const bool ready = rng.chance(p_ready);
            top_->y_ready = ready;
            top_->clk = 0;
            top_->eval();
            const bool a_fire = a_on && top_->a_ready, w_fire = w_on && top_->w_ready;
            bool progress = a_fire || w_fire;
            if (a_on && !a_fire) ++n.stalls;
            const bool valid = top_->y_valid;
            if (valid) {
                std::memset(ybuf, 0, sizeof ybuf);
                get(top_->y_payload, ybuf);
            }
            if (held && (!valid || std::memcmp(ybuf, yheld, sizeof ybuf) != 0)) ++n.protocol;
            held = false;
            if (valid && ready) {
                store_row(p, got, cb, ybuf, y, n);
                ++got;
                progress = true;
            } else if (valid) {
                std::memcpy(yheld, ybuf, sizeof ybuf);
                held = true;
            }
            top_->clk = 1;
            top_->eval();
            ++n.cycles;
            if (a_fire) { ++next_a; a_on = false; ++n.beats; }
            if (w_fire) { ++next_w; w_on = false; }
            quiet = progress ? 0 : quiet + 1;
            if (quiet > 100000) fail("the tile made no progress for 100000 cycles (a lost beat or a hang)");
        }
        n.out_beats += got;
    }

  private:
    Vtile* top_;

    // One input beat of one operand: rows ``block * N ..`` of ``codes`` / ``flags`` (row-major, K per row), elements
    // ``t * L ..`` of each, at the payload's field offsets.
    template <int N, int CODES_OFF, int CODE_BITS, int FLAGS_OFF, int FLAG_BITS>
    static void pack_rows(const Problem& p, const std::vector<int8_t>& codes, const std::vector<uint8_t>& flags,
                          uint32_t block, uint32_t t, uint32_t groups, uint32_t per_sub, uint32_t* buf) {
        for (int r = 0; r < N; ++r) {
            const std::size_t row = static_cast<std::size_t>(block) * N + r;
            const int8_t* c = &codes[row * p.k + static_cast<std::size_t>(t) * LANES];
            for (int l = 0; l < LANES; ++l)
                put_bits(buf, CODES_OFF + (r * LANES + l) * CODE_BITS, CODE_BITS, code_word(c[l], CODE_BITS));
#if FLAGS
            for (int s = 0; s < SUB; ++s) {
                const uint32_t e = t * LANES + s * per_sub;
                put_bits(buf, FLAGS_OFF + (r * SUB + s) * FLAG_BITS, FLAG_BITS, flags[row * groups + e / p.g]);
            }
#else
            (void)flags, (void)groups, (void)per_sub;
#endif
        }
    }

    void pack_a(const Problem& p, uint64_t beat, uint32_t steps, uint32_t cb, uint32_t groups, uint32_t per_sub,
                uint32_t* buf) {
        std::memset(buf, 0, sizeof(uint32_t) * A_WORDS);
        const uint32_t t = static_cast<uint32_t>(beat % steps), i = static_cast<uint32_t>(beat / steps / cb);
        pack_rows<ROWS, A_CODES_OFF, A_CODE_BITS, A_FLAGS_OFF, A_FLAG_BITS>(p, p.ac, p.af, i, t, groups, per_sub, buf);
        put_bits(buf, A_LAST_OFF, 1, t == steps - 1);
    }

    void pack_w(const Problem& p, uint64_t beat, uint32_t steps, uint32_t cb, uint32_t groups, uint32_t per_sub,
                uint32_t* buf) {
        std::memset(buf, 0, sizeof(uint32_t) * W_WORDS);
        const uint32_t t = static_cast<uint32_t>(beat % steps), j = static_cast<uint32_t>(beat / steps % cb);
        pack_rows<COLS, W_CODES_OFF, W_CODE_BITS, W_FLAGS_OFF, W_FLAG_BITS>(p, p.wc, p.wf, j, t, groups, per_sub, buf);
    }

    void store_row(const Problem& p, uint64_t got, uint32_t cb, const uint32_t* buf, std::vector<int64_t>& y,
                   Counts& n) {
        const uint64_t job = got / ROWS;
        const uint32_t r = static_cast<uint32_t>(got % ROWS);
        const uint32_t i = static_cast<uint32_t>(job / cb), j = static_cast<uint32_t>(job % cb);
        if (get_bits(buf, Y_LAST_OFF, 1) != (r == ROWS - 1 ? 1u : 0u)) ++n.protocol;
        for (int c = 0; c < COLS; ++c) {
            uint64_t v = get_bits(buf, Y_ACC_OFF + c * ACC_WIDTH, ACC_WIDTH);
            int64_t s = ACC_WIDTH == 64 ? static_cast<int64_t>(v)
                                        : static_cast<int64_t>(v << (64 - ACC_WIDTH)) >> (64 - ACC_WIDTH);
            y[(static_cast<std::size_t>(i) * ROWS + r) * p.n + static_cast<std::size_t>(j) * COLS + c] = s;
        }
    }
};

uint64_t cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Problem read_problem(FILE* f) {
    Problem p;
    p.m = read_one<uint32_t>(f, "truncated input: problem header");
    p.n = read_one<uint32_t>(f, "truncated input: problem header");
    p.k = read_one<uint32_t>(f, "truncated input: problem header");
    p.g = read_one<uint32_t>(f, "truncated input: problem header");
    char msg[256];
    if (p.g != GROUP_SIZE) {
        std::snprintf(msg, sizeof msg, "group size %u, but this tile was built for g = %d (0: no flags)", p.g,
                      GROUP_SIZE);
        fail(msg);
    }
    if (!p.m || p.m % ROWS || !p.n || p.n % COLS || !p.k || p.k % LANES || (p.g && p.k % p.g)) {
        std::snprintf(msg, sizeof msg, "problem M=%u N=%u K=%u: expected M a multiple of %d, N of %d, K of %d "
                      "and of g=%u (pad first)", p.m, p.n, p.k, ROWS, COLS, LANES, p.g);
        fail(msg);
    }
    const std::size_t ak = static_cast<std::size_t>(p.m) * p.k, wk = static_cast<std::size_t>(p.n) * p.k;
    const std::size_t afn = p.g ? ak / p.g : 0, wfn = p.g ? wk / p.g : 0;
    p.ac.resize(ak);
    p.af.resize(afn);
    p.wc.resize(wk);
    p.wf.resize(wfn);
    read_bytes(f, p.ac.data(), ak, "truncated input: A codes");
    read_bytes(f, p.af.data(), afn, "truncated input: A flags");
    read_bytes(f, p.wc.data(), wk, "truncated input: W codes");
    read_bytes(f, p.wf.data(), wfn, "truncated input: W flags");
    for (std::size_t e = 0; e < ak; ++e)
        if (p.ac[e] > A_MAX_CODE || p.ac[e] < A_MIN_CODE) {
            std::snprintf(msg, sizeof msg, "A code %d at element %zu outside %d..%d", p.ac[e], e, A_MIN_CODE,
                          A_MAX_CODE);
            fail(msg);
        }
    for (std::size_t e = 0; e < wk; ++e)
        if (p.wc[e] > W_MAX_CODE || p.wc[e] < W_MIN_CODE) {
            std::snprintf(msg, sizeof msg, "W code %d at element %zu outside %d..%d", p.wc[e], e, W_MIN_CODE,
                          W_MAX_CODE);
            fail(msg);
        }
    for (uint8_t v : p.af)
        if (v > A_MAX_FLAG) { std::snprintf(msg, sizeof msg, "A flag %u above %d", v, A_MAX_FLAG); fail(msg); }
    for (uint8_t v : p.wf)
        if (v > W_MAX_FLAG) { std::snprintf(msg, sizeof msg, "W flag %u above %d", v, W_MAX_FLAG); fail(msg); }
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "--info") == 0) {
        std::printf("%s\n", TILE_INFO);
        return 0;
    }
    FILE* in = stdin;
    FILE* out = stdout;
    char magic[4];
    read_bytes(in, magic, 4, "empty input (expected the QRTI header)");
    if (std::memcmp(magic, "QRTI", 4) != 0) fail("input does not start with QRTI");
    if (read_one<uint32_t>(in, "truncated header") != 1) fail("input version is not 1");
    const uint32_t count = read_one<uint32_t>(in, "truncated header");
    const uint32_t p_valid = read_one<uint32_t>(in, "truncated header");
    const uint32_t p_ready = read_one<uint32_t>(in, "truncated header");
    Rng rng{read_one<uint64_t>(in, "truncated header")};
    if (!p_valid || !p_ready) fail("p_valid and p_ready must be above 0");

    VerilatedContext ctx;
    Tile tile(&ctx);
    std::vector<int64_t> y;
    for (uint32_t q = 0; q < count; ++q) {
        const uint64_t t0 = cpu_ns();
        Problem p = read_problem(in);
        Counts n;
        tile.run(p, rng, p_valid, p_ready, y, n);
        std::fwrite("QRTY", 1, 4, out);
        std::fwrite(&p.m, 4, 1, out);
        std::fwrite(&p.n, 4, 1, out);
        std::fwrite(y.data(), sizeof(int64_t), y.size(), out);
        const uint64_t c[6] = {n.cycles, n.beats, n.stalls, n.out_beats, n.protocol, cpu_ns() - t0};
        std::fwrite(c, sizeof c, 1, out);
    }
    std::fflush(out);
    return 0;
}
