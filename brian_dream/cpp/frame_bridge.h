// frame_bridge.h: the compiled network's side of brian_dream's frame loop.
//
// The generated main() opens a Bridge once Brian2 has set the network up, then loops
// `while (bridge.next_frame())` around the frame-long network run alone (the run
// block's set-up stays outside) and calls `bridge.end_frame()` after it. The
// host (brian_dream.standalone.StandaloneDriver, or your own program) drives the
// loop through two file descriptors named by the environment variables
// BRIAN_DREAM_FD_IN (commands to the network) and BRIAN_DREAM_FD_OUT (replies).
//
// Protocol: one command byte, then raw little-endian arrays in registration order.
//   'F' + every input-rate array (double)  -> run one frame, reply every counter array
//       + one byte per gate                  (double); the counters are then zeroed
//   'R' + uint32 substrate index            -> restore that substrate's initial state
//   'G'                                     -> reply every state array
//   'S' + every state array                 -> overwrite the state
//   'Q'                                     -> leave the loop (the program then ends)
// A frame's reply is followed by what its monitors recorded, if the program has any
// (brian_dream.devices.monitors: the generated loop calls send_spikes / send_rows after
// end_frame(), in the monitors' order), and the monitors are emptied:
//   spikes: uint64 n, n x int32 neuron index (in the monitored subgroup), n x double t
//   state:  uint64 rows, rows x double t, then per variable rows x (recorded neurons) values
// Gates: set_gates(n) gives the program n operations that a frame may skip (their
// network entries call them through gated<k, ...>): after the rates each 'F' carries
// one byte per gate, 0 = skip this frame, 1 = run (brian_dream's host sends 0 only where
// the operation would leave the state exactly as it is; a host of its own may send 1s).
// On open the network writes the 8-byte magic "BDBRIDGE" so the host knows it is up.
//
// The generated loop sets the Network's and the clocks' t to 0 after each frame, so
// every frame runs from t = 0. end_frame() therefore moves every
// `lastspike` back by one frame: refractoriness sees the same t - lastspike as in
// one continuous run (no model equation uses t itself).
//
// With brian2cuda (the header is compiled by nvcc: __CUDACC__) every array is also
// registered with its device copy, which is what the kernels read and write: inputs
// and restored state go to the GPU before the next frame, counts and state come back
// from it, and the counts are zeroed and lastspike moved back on the GPU itself.
// A CUDA error ends the program with the error's name (exit code 6).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <unistd.h>
#ifdef __CUDACC__
#include <cuda_runtime.h>
#endif

namespace brian_dream_bridge {

struct Block {
    char *data;
    size_t nbytes;
    int owner;
    char *device;  // the GPU copy (brian2cuda), or nullptr
};

#ifdef __CUDACC__
namespace {
__global__ void subtract_kernel(double *p, size_t n, double by) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) p[i] -= by;
}
}  // namespace

inline void cuda_check(cudaError_t err, const char *what) {
    if (err != cudaSuccess) {
        std::fprintf(stderr, "brian_dream bridge: CUDA error in %s: %s\n", what, cudaGetErrorString(err));
        std::exit(6);
    }
}
#endif

// Host <-> GPU copies of a block; without CUDA (or without a device copy) nothing to do.
inline void to_device(const Block &b) {
#ifdef __CUDACC__
    if (b.device) cuda_check(cudaMemcpy(b.device, b.data, b.nbytes, cudaMemcpyHostToDevice), "copy to GPU");
#endif
}
inline void from_device(const Block &b) {
#ifdef __CUDACC__
    if (b.device) cuda_check(cudaMemcpy(b.data, b.device, b.nbytes, cudaMemcpyDeviceToHost), "copy from GPU");
#endif
}

// This frame's gates (one byte each, sent with 'F'), read by gated<>.
inline std::vector<unsigned char> open_gates;

// A network entry that runs the code object F only when gate K is open.
template <size_t K, void (*F)()>
void gated() {
    if (open_gates[K]) F();
}

class Bridge {
  public:
    void set_gates(size_t n) { open_gates.assign(n, 1); }

    // `dev`: the array's GPU copy with brian2cuda, nullptr (the default) with cpp_standalone
    void add_rates(double *p, size_t n, void *dev = nullptr) {
        rates_.push_back({(char *)p, n * sizeof(double), -1, (char *)dev});
    }
    void add_counts(double *p, size_t n, void *dev = nullptr) {
        counts_.push_back({(char *)p, n * sizeof(double), -1, (char *)dev});
    }
    void add_state(int owner, void *p, size_t nbytes, void *dev = nullptr) {
        state_.push_back({(char *)p, nbytes, owner, (char *)dev});
    }
    void add_lastspike(double *p, size_t n, void *dev = nullptr) {
        lastspike_.push_back({(char *)p, n * sizeof(double), -1, (char *)dev});
    }

    void open(double frame_duration) {
        frame_ = frame_duration;
        in_ = fd_from_env("BRIAN_DREAM_FD_IN");
        out_ = fd_from_env("BRIAN_DREAM_FD_OUT");
        for (const Block &b : state_) {
            from_device(b);  // brian2cuda initialised the GPU copies
            initial_.emplace_back(b.data, b.data + b.nbytes);
        }
        write_all("BDBRIDGE", 8);
    }

    // Serve commands until a frame is requested (true) or the host quits (false).
    bool next_frame() {
        for (;;) {
            char op = 0;
            if (!read_all(&op, 1)) return false;  // host went away: end cleanly
            switch (op) {
            case 'F':
                for (Block &b : rates_) {
                    read_or_die(b.data, b.nbytes);
                    to_device(b);
                }
                if (!open_gates.empty()) read_or_die(open_gates.data(), open_gates.size());
                return true;
            case 'R': {
                uint32_t owner = 0;
                read_or_die(&owner, sizeof(owner));
                for (size_t i = 0; i < state_.size(); ++i)
                    if (state_[i].owner == (int)owner) {
                        std::memcpy(state_[i].data, initial_[i].data(), state_[i].nbytes);
                        to_device(state_[i]);
                    }
                break;
            }
            case 'G':
                for (const Block &b : state_) {
                    from_device(b);
                    write_all(b.data, b.nbytes);
                }
                break;
            case 'S':
                for (Block &b : state_) {
                    read_or_die(b.data, b.nbytes);
                    to_device(b);
                }
                break;
            case 'Q':
                return false;
            default:
                std::fprintf(stderr, "brian_dream bridge: unknown command byte %d\n", (int)op);
                std::exit(3);
            }
        }
    }

    void end_frame() {
        for (Block &b : counts_) {
            from_device(b);
            write_all(b.data, b.nbytes);
            std::memset(b.data, 0, b.nbytes);
#ifdef __CUDACC__
            if (b.device) cuda_check(cudaMemset(b.device, 0, b.nbytes), "zeroing the counts");
#endif
        }
        for (Block &b : lastspike_) {
            size_t n = b.nbytes / sizeof(double);
#ifdef __CUDACC__
            if (b.device) {
                subtract_kernel<<<(unsigned)((n + 255) / 256), 256>>>((double *)b.device, n, frame_);
                cuda_check(cudaGetLastError(), "moving lastspike");
                continue;
            }
#endif
            double *p = (double *)b.data;
            for (size_t i = 0; i < n; ++i) p[i] -= frame_;
        }
    }

    // A SpikeMonitor's spikes of the last frame, then empty it.
    template <class I, class T>
    void send_spikes(std::vector<I> &i, std::vector<T> &t, int32_t *N) {
        uint64_t n = i.size();
        write_all(&n, sizeof(n));
        if (n) {
            write_all(i.data(), n * sizeof(I));
            write_all(t.data(), n * sizeof(T));
        }
        i.clear();
        t.clear();
        N[0] = 0;
    }

    // A StateMonitor's samples of the last frame (row-major, one row per time step), then empty it.
    template <class T, class... A>
    void send_rows(std::vector<T> &t, int32_t *N, size_t m, A &...arrays) {
        uint64_t rows = t.size();
        write_all(&rows, sizeof(rows));
        if (rows) write_all(t.data(), rows * sizeof(T));
        (send_array(arrays, rows, m), ...);
        t.clear();
        N[0] = 0;
    }

  private:
    template <class D>
    void send_array(D &array, size_t rows, size_t m) {
        for (size_t r = 0; r < rows; ++r) write_all(&array(r, (size_t)0), m * sizeof(array(r, (size_t)0)));
        array.resize((size_t)0, m);
    }

    static int fd_from_env(const char *name) {
        const char *value = std::getenv(name);
        if (value == nullptr) {
            std::fprintf(stderr, "brian_dream bridge: %s is not set; run this program through its host "
                                 "(see README.md)\n", name);
            std::exit(2);
        }
        return std::atoi(value);
    }
    bool read_all(void *p, size_t n) {
        char *c = (char *)p;
        while (n > 0) {
            ssize_t got = ::read(in_, c, n);
            if (got <= 0) return false;
            c += got;
            n -= (size_t)got;
        }
        return true;
    }
    void read_or_die(void *p, size_t n) {
        if (!read_all(p, n)) {
            std::fprintf(stderr, "brian_dream bridge: input ended inside a command\n");
            std::exit(4);
        }
    }
    void write_all(const void *p, size_t n) {
        const char *c = (const char *)p;
        while (n > 0) {
            ssize_t put = ::write(out_, c, n);
            if (put <= 0) {
                std::fprintf(stderr, "brian_dream bridge: the host stopped reading\n");
                std::exit(5);
            }
            c += put;
            n -= (size_t)put;
        }
    }

    double frame_ = 0.0;
    int in_ = -1, out_ = -1;
    std::vector<Block> rates_, counts_, state_, lastspike_;
    std::vector<std::vector<char>> initial_;
};

}  // namespace brian_dream_bridge
