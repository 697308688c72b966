package dev.trm.data;

/**
 * The token facts of a task's sequences (spec 6.1 table): every task uses pad 0, ignore label 0 and blank identifier 0;
 * small Sudoku boards have a smaller vocabulary and sequence.
 */
public record TokenLayout(TaskKind task, int vocabSize, int seqLen, int padId, int ignoreLabelId, int blankIdentifierId) {
    public TokenLayout {
        if (vocabSize < 1 || vocabSize > 256) throw new IllegalArgumentException("vocab size must be 1..256 (stored as uint8)");
        if (seqLen < 1) throw new IllegalArgumentException("seq len must be positive");
    }

    public static TokenLayout of(TaskKind task, int vocabSize, int seqLen) {
        return new TokenLayout(task, vocabSize, seqLen, 0, 0, 0);
    }
}
