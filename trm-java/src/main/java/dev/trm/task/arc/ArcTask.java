package dev.trm.task.arc;

import java.util.List;

/**
 * An ARC task: demonstration ("train") pairs and test pairs.
 *
 * @param where the file it came from, for messages
 */
public record ArcTask(String id, List<ArcPair> train, List<ArcPair> test, String where) {}
