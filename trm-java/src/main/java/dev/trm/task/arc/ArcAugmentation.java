package dev.trm.task.arc;

import java.util.SplittableRandom;

/**
 * One ARC augmentation (spec 6.4): a dihedral transform t in 0..7 and a colour permutation that fixes 0 (black) and
 * permutes 1..9. A grid is recoloured, then transformed. The version's identifier name is
 * {@code <task>|||t<t>|||<10 digits of the colour map>}; the original keeps the plain task id.
 */
public record ArcAugmentation(int dihedral, int[] colourMap) {
    public static final String SEPARATOR = "|||";
    public static final ArcAugmentation IDENTITY = new ArcAugmentation(0, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

    public static ArcAugmentation random(SplittableRandom rnd) {
        int t = rnd.nextInt(8);
        int[] map = new int[10];
        for (int i = 0; i < 10; i++) map[i] = i;
        for (int i = 9; i > 1; i--) {
            int j = 1 + rnd.nextInt(i);
            int x = map[i]; map[i] = map[j]; map[j] = x;
        }
        return new ArcAugmentation(t, map);
    }

    public ArcGrid apply(ArcGrid g) {
        return g.recolour(colourMap).transform(dihedral);
    }

    /** Undoes the augmentation: inverse dihedral, then inverse colour map. */
    public ArcGrid invert(ArcGrid g) {
        int[] inverse = new int[10];
        for (int c = 0; c < 10; c++) inverse[colourMap[c]] = c;
        return g.transform(dev.trm.task.Dihedral.inverse(dihedral)).recolour(inverse);
    }

    public boolean isIdentity() {
        return this.equals(IDENTITY);
    }

    /** The identifier name of this version of a task. */
    public String name(String taskId) {
        if (isIdentity()) return taskId;
        StringBuilder sb = new StringBuilder(taskId).append(SEPARATOR).append('t').append(dihedral).append(SEPARATOR);
        for (int c : colourMap) sb.append(c);
        return sb.toString();
    }

    /** Task id of an identifier name. */
    public static String taskOf(String name) {
        int i = name.indexOf(SEPARATOR);
        return i < 0 ? name : name.substring(0, i);
    }

    /** The augmentation encoded in an identifier name (identity for a plain task id). */
    public static ArcAugmentation parse(String name) {
        int i = name.indexOf(SEPARATOR);
        if (i < 0) return IDENTITY;
        String[] parts = name.substring(i + SEPARATOR.length()).split("\\|\\|\\|");
        if (parts.length != 2 || !parts[0].startsWith("t") || parts[1].length() != 10) {
            throw new IllegalArgumentException("not an augmented ARC identifier: " + name);
        }
        int t = Integer.parseInt(parts[0].substring(1));
        int[] map = new int[10];
        for (int c = 0; c < 10; c++) map[c] = parts[1].charAt(c) - '0';
        return new ArcAugmentation(t, map);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ArcAugmentation a && a.dihedral == dihedral && java.util.Arrays.equals(a.colourMap, colourMap);
    }

    @Override
    public int hashCode() {
        return 31 * dihedral + java.util.Arrays.hashCode(colourMap);
    }

    @Override
    public String toString() {
        return name("");
    }
}
