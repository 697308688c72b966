package dev.trm.gpu;

/** A kernel function of the loaded module, launchable on a stream. */
public final class Kernel {
    private final GpuDevice device;
    private final String name;
    private final long function;

    Kernel(GpuDevice device, String name, long function) {
        this.device = device;
        this.name = name;
        this.function = function;
    }

    public String name() {
        return name;
    }

    /** 1-D launch: grid blocks of block threads. */
    public void launch(Stream stream, int grid, int block, int sharedBytes, KernelArgs args) {
        launch(stream, grid, 1, 1, block, 1, 1, sharedBytes, args);
    }

    /** A launch as a programmatic dependent of the work before it when the device launches so (the default). */
    public void launch(Stream stream, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                       KernelArgs args) {
        launch(stream, gx, gy, gz, bx, by, bz, sharedBytes, args, device.programmaticLaunch());
    }

    void launch(Stream stream, int grid, int block, int sharedBytes, KernelArgs args, boolean programmatic) {
        launch(stream, grid, 1, 1, block, 1, 1, sharedBytes, args, programmatic);
    }

    private void launch(Stream stream, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes,
                        KernelArgs args, boolean programmatic) {
        device.checkOpen();
        if (gx < 1 || gy < 1 || gz < 1 || bx < 1 || by < 1 || bz < 1 || (long) bx * by * bz > 1024) {
            throw new IllegalArgumentException("bad launch of " + name + ": grid " + gx + "x" + gy + "x" + gz
                    + ", block " + bx + "x" + by + "x" + bz);
        }
        device.driver.launch(function, gx, gy, gz, bx, by, bz, sharedBytes, stream.handle(), args, programmatic);
        device.kernelsEnqueued++;
    }

    /** Blocks needed to cover n items with `block` threads each. */
    public static int blocks(long n, int block) {
        long g = (n + block - 1) / block;
        if (g > Integer.MAX_VALUE) throw new IllegalArgumentException(n + " items exceed one grid");
        return (int) Math.max(1, g);
    }
}
