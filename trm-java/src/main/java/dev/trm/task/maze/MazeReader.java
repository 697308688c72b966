package dev.trm.task.maze;

import dev.trm.data.DataException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads the Maze-Hard CSV layout: header {@code source,question,answer,rating}, each grid a side*side string over
 * {@code "# SGo"} (side = sqrt of the length, 30 for Maze-Hard). Fields are not trimmed: spaces are open cells.
 * Each row is checked: square length, known characters, one S and one G, no 'o' in the question, and an answer that is
 * a shortest S-to-G path (BFS); a missing answer is filled in with the solver's shortest path.
 */
public final class MazeReader {
    private MazeReader() {}

    public static List<Maze> read(Path file) {
        List<Maze> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String header = in.readLine();
            if (header == null) throw new DataException(file + ": empty file");
            String[] names = strip(header).split(",", -1);
            int qCol = -1, aCol = -1, sCol = -1, rCol = -1;
            for (int i = 0; i < names.length; i++) {
                switch (names[i].strip().toLowerCase(Locale.ROOT)) {
                    case "question", "q" -> qCol = i;
                    case "answer", "a" -> aCol = i;
                    case "source" -> sCol = i;
                    case "rating" -> rCol = i;
                    default -> { }
                }
            }
            if (qCol < 0) throw new DataException(file + ":1: CSV header has no 'question' column: " + header);
            String line;
            int lineNo = 1;
            int side = -1;
            while ((line = in.readLine()) != null) {
                lineNo++;
                String where = file + ":" + lineNo;
                line = strip(line);
                if (line.isEmpty()) continue;
                String[] f = line.split(",", -1);
                if (f.length != names.length) {
                    throw new DataException(where + ": expected " + names.length + " columns, found " + f.length);
                }
                String q = f[qCol];
                int s = (int) Math.round(Math.sqrt(q.length()));
                if (s * s != q.length() || s < 2) {
                    throw new DataException(where + ": question has " + q.length() + " characters, not a square grid");
                }
                if (side >= 0 && s != side) throw new DataException(where + ": a " + s + "x" + s + " maze among " + side + "x" + side);
                side = s;
                byte[] question = parse(q, where, "question");
                check(question, side, where);
                byte[] answer = null;
                if (aCol >= 0 && !f[aCol].isEmpty()) {
                    if (f[aCol].length() != q.length()) {
                        throw new DataException(where + ": answer has " + f[aCol].length() + " characters, question " + q.length());
                    }
                    answer = parse(f[aCol], where, "answer");
                    String why = MazeSolver.whyNotShortestPath(question, answer, side);
                    if (why != null) throw new DataException(where + ": answer is not a shortest S-to-G path: " + why);
                } else {
                    answer = MazeSolver.solve(question, side);
                    if (answer == null) throw new DataException(where + ": G is unreachable from S");
                }
                out.add(new Maze(side, question, answer, sCol >= 0 ? f[sCol] : file.getFileName().toString(),
                        rCol >= 0 ? f[rCol].strip() : "", where));
            }
        } catch (IOException e) {
            throw new DataException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw new DataException(file + ": no mazes");
        return out;
    }

    private static String strip(String line) {
        return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
    }

    private static byte[] parse(String s, String where, String what) {
        byte[] t = new byte[s.length()];
        for (int i = 0; i < s.length(); i++) {
            int tok = MazeTokens.token(s.charAt(i));
            if (tok < 0) {
                throw new DataException(where + ": " + what + " character '" + s.charAt(i) + "' at position " + (i + 1)
                        + " is not one of \"# SGo\"");
            }
            t[i] = (byte) tok;
        }
        return t;
    }

    static void check(byte[] question, int side, String where) {
        int starts = 0, goals = 0;
        for (byte b : question) {
            if (b == MazeTokens.START) starts++;
            if (b == MazeTokens.GOAL) goals++;
            if (b == MazeTokens.PATH) throw new DataException(where + ": question contains a path cell 'o'");
        }
        if (starts != 1 || goals != 1) {
            throw new DataException(where + ": question needs exactly one S and one G, has " + starts + " S and " + goals + " G");
        }
    }
}
