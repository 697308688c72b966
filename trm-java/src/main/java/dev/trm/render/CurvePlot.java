package dev.trm.render;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

/**
 * Training curves as a PNG (java.awt, headless): one panel per named series, step on the x axis. Written atomically
 * through {@link ImageRender#writePng}.
 */
public final class CurvePlot {
    private CurvePlot() {}

    /** One curve: its title and (step, value) points; NaN values are skipped. */
    public record Series(String title, List<double[]> points) {}

    public static void write(List<Series> panels, Path file) {
        int w = 520, h = 260, cols = 2, rows = (panels.size() + cols - 1) / cols;
        BufferedImage img = new BufferedImage(w * cols, h * rows, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i < panels.size(); i++) panel(g, panels.get(i), (i % cols) * w, (i / cols) * h, w, h);
        g.dispose();
        ImageRender.writePng(img, file);
    }

    private static void panel(Graphics2D g, Series s, int x0, int y0, int w, int h) {
        int left = x0 + 60, right = x0 + w - 15, top = y0 + 25, bottom = y0 + h - 30;
        double xmin = Double.POSITIVE_INFINITY, xmax = Double.NEGATIVE_INFINITY;
        double ymin = Double.POSITIVE_INFINITY, ymax = Double.NEGATIVE_INFINITY;
        for (double[] p : s.points()) {
            if (Double.isNaN(p[1]) || Double.isInfinite(p[1])) continue;
            xmin = Math.min(xmin, p[0]);
            xmax = Math.max(xmax, p[0]);
            ymin = Math.min(ymin, p[1]);
            ymax = Math.max(ymax, p[1]);
        }
        g.setColor(Color.BLACK);
        g.drawString(s.title(), left, y0 + 16);
        g.setColor(Color.GRAY);
        g.drawRect(left, top, right - left, bottom - top);
        if (xmin > xmax) return;
        if (xmax == xmin) xmax = xmin + 1;
        if (ymax == ymin) {
            ymax += 0.5;
            ymin -= 0.5;
        }
        g.setColor(Color.DARK_GRAY);
        g.drawString(String.format("%.3g", ymax), x0 + 4, top + 10);
        g.drawString(String.format("%.3g", ymin), x0 + 4, bottom);
        g.drawString(String.format("%.0f", xmin), left, bottom + 15);
        String xm = String.format("%.0f", xmax);
        g.drawString(xm, right - g.getFontMetrics().stringWidth(xm), bottom + 15);
        g.setColor(new Color(0x1f77b4));
        g.setStroke(new BasicStroke(1.5f));
        int px = -1, py = -1;
        for (double[] p : s.points()) {
            if (Double.isNaN(p[1]) || Double.isInfinite(p[1])) continue;
            int x = (int) Math.round(left + (p[0] - xmin) / (xmax - xmin) * (right - left));
            int y = (int) Math.round(bottom - (p[1] - ymin) / (ymax - ymin) * (bottom - top));
            if (px >= 0) g.drawLine(px, py, x, y);
            else g.fillOval(x - 2, y - 2, 4, 4);
            px = x;
            py = y;
        }
    }
}
