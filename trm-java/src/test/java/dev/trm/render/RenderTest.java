package dev.trm.render;

import static org.junit.jupiter.api.Assertions.*;

import dev.trm.data.TaskKind;
import dev.trm.task.arc.ArcGrid;
import dev.trm.task.arc.ArcTokens;
import dev.trm.task.maze.MazeGenerator;
import dev.trm.task.maze.Maze;
import dev.trm.task.sudoku.SudokuShape;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RenderTest {
    @TempDir
    Path tmp;

    @Test
    void textForEveryTask() {
        byte[] board = new byte[16];
        board[0] = 1;
        board[15] = 4;
        String s = TextRender.sudoku(board, SudokuShape.ofSide(4));
        assertEquals("1 . | . .\n. . | . .\n----+----\n. . | . .\n. . | . 4\n", s);
        ArcGrid g = new ArcGrid(2, 2, new byte[] {0, 1, 2, 9});
        assertEquals("01\n29\n", TextRender.arc(g));
        int[] tokens = new int[900];
        byte[] enc = ArcTokens.encode(g, 0, 0);
        for (int i = 0; i < 900; i++) tokens[i] = enc[i];
        assertEquals("01#\n29#\n##.\n", TextRender.tokens(TaskKind.ARC, tokens));
        assertEquals("#S\nGo\n", TextRender.maze(new byte[] {1, 3, 4, 5}, 2));
    }

    @Test
    void pngsUseTheArcPaletteAndSideBySidePanels() throws Exception {
        ArcGrid g = new ArcGrid(1, 2, new byte[] {1, 9});
        BufferedImage img = ImageRender.arc(g, 10);
        assertEquals(21, img.getWidth());
        assertEquals(11, img.getHeight());
        assertEquals(0x0074D9, img.getRGB(5, 5) & 0xFFFFFF, "colour 1 is blue");
        assertEquals(0x870C25, img.getRGB(15, 5) & 0xFFFFFF, "colour 9 is maroon");
        Maze m = new MazeGenerator(8, 10, 1).generate(100_000);
        BufferedImage maze = ImageRender.maze(m.answer(), 8, 6);
        BufferedImage three = ImageRender.sideBySide(List.of(img, maze, img), 4);
        assertEquals(4 + 21 + 4 + maze.getWidth() + 4 + 21 + 4, three.getWidth());
        Path f = tmp.resolve("out/three.png");
        ImageRender.writePng(three, f);
        BufferedImage back = ImageIO.read(f.toFile());
        assertEquals(three.getWidth(), back.getWidth());
        assertEquals(0x0074D9, back.getRGB(4 + 5, 4 + 5) & 0xFFFFFF);
    }
}
