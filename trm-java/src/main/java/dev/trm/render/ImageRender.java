package dev.trm.render;

import dev.trm.data.DataException;
import dev.trm.data.TaskKind;
import dev.trm.task.arc.ArcGrid;
import dev.trm.task.maze.MazeTokens;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * PNG pictures (javax.imageio, no extra dependency): ARC grids in the standard ARC palette, mazes, token sequences of
 * either, and side-by-side panels such as input | prediction | truth.
 */
public final class ImageRender {
    /** The ARC colours 0..9 as the official viewer draws them. */
    public static final int[] ARC_PALETTE = {
        0x000000, 0x0074D9, 0xFF4136, 0x2ECC40, 0xFFDC00, 0xAAAAAA, 0xF012BE, 0xFF851B, 0x7FDBFF, 0x870C25,
    };
    static final int GRID_LINE = 0x555555;
    static final int PAD_COLOUR = 0x202020;
    static final int EOS_COLOUR = 0xFFFFFF;
    static final int BACKGROUND = 0xF0F0F0;
    /** Maze tokens PAD, wall, open, start, goal, path. */
    static final int[] MAZE_PALETTE = {0x808080, 0x1E1E1E, 0xFFFFFF, 0x2ECC40, 0xFF4136, 0x0074D9};

    private ImageRender() {}

    /** An ARC grid, cell pixels per cell, with thin grid lines. */
    public static BufferedImage arc(ArcGrid g, int cell) {
        int[] rgb = new int[g.rows() * g.cols()];
        for (int i = 0; i < rgb.length; i++) rgb[i] = ARC_PALETTE[g.cells()[i]];
        return cells(rgb, g.rows(), g.cols(), cell);
    }

    /** A maze of tokens. */
    public static BufferedImage maze(byte[] tokens, int side, int cell) {
        int[] rgb = new int[tokens.length];
        for (int i = 0; i < rgb.length; i++) rgb[i] = MAZE_PALETTE[tokens[i] >= 0 && tokens[i] <= MazeTokens.PATH ? tokens[i] : 0];
        return cells(rgb, side, side, cell);
    }

    /** A token sequence of a square canvas: ARC (PAD dark, EOS white, colours in palette) or maze. */
    public static BufferedImage tokens(TaskKind task, int[] tokens, int cell) {
        int side = (int) Math.round(Math.sqrt(tokens.length));
        int[] rgb = new int[tokens.length];
        for (int i = 0; i < rgb.length; i++) {
            int t = tokens[i];
            rgb[i] = switch (task) {
                case ARC -> t == 0 ? PAD_COLOUR : t == 1 ? EOS_COLOUR : t >= 2 && t <= 11 ? ARC_PALETTE[t - 2] : 0xFF00FF;
                case MAZE -> t >= 0 && t <= MazeTokens.PATH ? MAZE_PALETTE[t] : 0xFF00FF;
                case SUDOKU -> throw new DataException("Sudoku renders as text only");
            };
        }
        return cells(rgb, side, side, cell);
    }

    private static BufferedImage cells(int[] rgb, int rows, int cols, int cell) {
        int w = cols * cell + 1, h = rows * cell + 1;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, GRID_LINE);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int colour = rgb[r * cols + c];
                for (int y = 1; y < cell; y++) for (int x = 1; x < cell; x++) img.setRGB(c * cell + x, r * cell + y, colour);
            }
        }
        return img;
    }

    /** Panels left to right, top-aligned, separated by a gap: e.g. input | prediction | truth. */
    public static BufferedImage sideBySide(List<BufferedImage> panels, int gap) {
        int w = gap, h = 0;
        for (BufferedImage p : panels) {
            w += p.getWidth() + gap;
            h = Math.max(h, p.getHeight());
        }
        BufferedImage out = new BufferedImage(w, h + 2 * gap, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(new Color(BACKGROUND));
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        int x = gap;
        for (BufferedImage p : panels) {
            g.drawImage(p, x, gap, null);
            x += p.getWidth() + gap;
        }
        g.dispose();
        return out;
    }

    /** Rows top to bottom, left-aligned, separated by a gap: e.g. one input | output row per ARC pair. */
    public static BufferedImage stack(List<BufferedImage> rows, int gap) {
        int w = 0, h = 0;
        for (BufferedImage r : rows) {
            w = Math.max(w, r.getWidth());
            h += r.getHeight();
        }
        BufferedImage out = new BufferedImage(Math.max(1, w), Math.max(1, h), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(new Color(BACKGROUND));
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        int y = 0;
        for (BufferedImage r : rows) {
            g.drawImage(r, 0, y, null);
            y += r.getHeight();
        }
        g.dispose();
        return out;
    }

    /** Writes a PNG atomically (temporary file, then move). */
    public static void writePng(BufferedImage img, Path file) {
        try {
            Path abs = file.toAbsolutePath();
            Files.createDirectories(abs.getParent());
            Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            try {
                if (!ImageIO.write(img, "png", tmp.toFile())) throw new IOException("no PNG writer");
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new DataException(file + ": cannot write PNG: " + e.getMessage(), e);
        }
    }
}
