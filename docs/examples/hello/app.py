def handler(event, context):
    return {"hello": event.get("name", "world"), "request": context.aws_request_id}
