package dev.trm.task.sudoku;

import dev.trm.data.DataException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads Sudoku files in the layouts users bring:
 * <ul>
 *   <li>CSV with a header naming {@code question} (or {@code q}) and optionally {@code answer} ({@code a}),
 *       {@code source}, {@code rating}: Sudoku-Extreme's {@code source,question,answer,rating} and the
 *       {@code source,question,answer} files of shared/data/sudoku;</li>
 *   <li>plain text, one puzzle per line ('.' or '0' for blanks), '#' comment lines and blank lines skipped.</li>
 * </ul>
 * Boards of 16, 36 or 81 cells are accepted; every puzzle of a file must have the same size. Problems are reported with
 * the file and line: wrong length, bad characters, wrong column count, answers with blanks or disagreeing with givens.
 */
public final class SudokuReader {
    private SudokuReader() {}

    public static List<SudokuPuzzle> read(Path file) {
        List<SudokuPuzzle> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            int qCol = -1, aCol = -1, sCol = -1, rCol = -1, columns = 0;
            boolean csv = false;
            SudokuShape shape = null;
            String fileName = file.getFileName().toString();
            while ((line = in.readLine()) != null) {
                lineNo++;
                String where = file + ":" + lineNo;
                String t = line.strip();
                if (t.isEmpty() || t.startsWith("#")) continue;
                if (!csv && out.isEmpty() && t.contains(",") && !Character.isDigit(t.charAt(0)) && t.charAt(0) != '.') {
                    String[] header = t.split(",", -1);
                    columns = header.length;
                    for (int i = 0; i < header.length; i++) {
                        switch (header[i].strip().toLowerCase(java.util.Locale.ROOT)) {
                            case "question", "q", "puzzle", "quizzes" -> qCol = i;
                            case "answer", "a", "solution", "solutions" -> aCol = i;
                            case "source" -> sCol = i;
                            case "rating" -> rCol = i;
                            default -> { }
                        }
                    }
                    if (qCol < 0) throw new DataException(where + ": CSV header has no 'question' column: " + t);
                    csv = true;
                    continue;
                }
                String q, a = null, source = fileName, rating = "";
                if (csv) {
                    String[] f = t.split(",", -1);
                    if (f.length != columns) {
                        throw new DataException(where + ": expected " + columns + " columns, found " + f.length);
                    }
                    q = f[qCol].strip();
                    if (aCol >= 0 && !f[aCol].isBlank()) a = f[aCol].strip();
                    if (sCol >= 0) source = f[sCol].strip();
                    if (rCol >= 0) rating = f[rCol].strip();
                } else {
                    q = t;
                }
                SudokuShape s = SudokuShape.ofCells(q.length());
                if (s == null) {
                    throw new DataException(where + ": puzzle has " + q.length() + " characters, expected 81 (or 16, 36)");
                }
                if (shape != null && !shape.equals(s)) {
                    throw new DataException(where + ": a " + s + " puzzle in a file of " + shape + " puzzles");
                }
                shape = s;
                byte[] question = parse(q, s, true, where, "question");
                byte[] answer = null;
                if (a != null) {
                    if (a.length() != s.cells()) {
                        throw new DataException(where + ": answer has " + a.length() + " characters, expected " + s.cells());
                    }
                    answer = parse(a, s, false, where, "answer");
                    for (int i = 0; i < question.length; i++) {
                        if (question[i] != 0 && question[i] != answer[i]) {
                            throw new DataException(where + ": answer " + answer[i] + " at row " + (i / s.side() + 1)
                                    + ", column " + (i % s.side() + 1) + " contradicts the given " + question[i]);
                        }
                    }
                }
                out.add(new SudokuPuzzle(source, s, question, answer, rating, where));
            }
        } catch (IOException e) {
            throw new DataException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (out.isEmpty()) throw new DataException(file + ": no puzzles");
        return out;
    }

    private static byte[] parse(String s, SudokuShape shape, boolean blanksAllowed, String where, String what) {
        byte[] v = new byte[s.length()];
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            int d;
            if (c == '.' || c == '0') {
                if (!blanksAllowed) throw new DataException(where + ": " + what + " has a blank at position " + (i + 1));
                d = 0;
            } else if (c >= '1' && c <= '9' && c - '0' <= shape.side()) {
                d = c - '0';
            } else {
                throw new DataException(where + ": " + what + " character '" + c + "' at position " + (i + 1)
                        + " is not a digit 1-" + shape.side() + (blanksAllowed ? " or a blank ('.' or '0')" : ""));
            }
            v[i] = (byte) d;
        }
        return v;
    }
}
