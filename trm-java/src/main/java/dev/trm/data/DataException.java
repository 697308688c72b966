package dev.trm.data;

/**
 * Bad or unreadable input data. The message always names where the problem is (file and line, or task id), so the CLI
 * can print it as the one-line error.
 */
public class DataException extends RuntimeException {
    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
