import express, { Request, Response } from 'express';

export const app = express();
const v1 = express.Router();

app.get('/healthz', (_req: Request, res: Response) => res.send('ok'));
v1.post('/payments', async (req: Request, res: Response) => {
  res.status(201).json(req.body);
});
app.use('/v1', v1);
